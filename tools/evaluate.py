#!/usr/bin/env python
"""Evaluate a StarCoder2 model, completions or a training run: see `tools/evaluate.py --help`."""

import sys

from megatron_sc2.evaluation.cli import main

if __name__ == "__main__":
    sys.exit(main())
