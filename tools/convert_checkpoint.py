#!/usr/bin/env python
"""Convert megatron_sc2 checkpoints to and from Hugging Face StarCoder2 folders (see --help)."""

import sys

from megatron_sc2.conversion.cli import main

if __name__ == "__main__":
    sys.exit(main())
