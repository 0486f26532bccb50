#!/usr/bin/env python
"""StarCoder2's non-code sources (conversations, notebooks, Kaggle, IR) in the paper's format: see `python tools/render_sources.py --help` and
docs/sources.md."""

import sys

from megatron_sc2.sources.cli import main

if __name__ == "__main__":
    sys.exit(main())
