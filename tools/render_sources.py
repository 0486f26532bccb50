#!/usr/bin/env python
"""StarCoder2's conversation sources in the paper's format: see `python tools/render_sources.py --help` and
docs/sources.md."""

import sys

from megatron_sc2.sources.cli import main

if __name__ == "__main__":
    sys.exit(main())
