#!/usr/bin/env python
"""The Stack v2 curation pipeline: see `python tools/curate.py --help` and docs/curation.md."""

import sys

from megatron_sc2.curation.cli import main

if __name__ == "__main__":
    sys.exit(main())
