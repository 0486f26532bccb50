#!/usr/bin/env python
"""Concatenate Megatron indexed datasets (.bin/.idx) into one, e.g. the partitions of a multi-node run.

Datasets are taken in the order given; a folder or glob contributes its datasets sorted by name, so
partitions named ..._p000, ..._p001, ... merge back into exactly what a single run writes. Datasets of
different tokenizers (their .tokenizer-id.json records) are refused.

Example:
  python tools/merge_datasets.py --input 'out/stack-p*_content_document' \\
      --output-prefix out/stack_content_document
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from megatron_sc2.data.merge import dataset_prefixes, merge_datasets
from megatron_sc2.publish import OutputBusy


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--input", nargs="+", required=True, metavar="PATH",
        help="dataset prefixes (or their .bin/.idx files), globs, or folders of datasets",
    )  # fmt: skip
    parser.add_argument("--output-prefix", required=True,
                        help="writes {prefix}.bin/.idx, the inputs' {prefix}.tokenizer-id.json and {prefix}.manifest.json")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", module="megatron")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    log = logging.getLogger("megatron_sc2.merge")
    log.setLevel(logging.INFO)
    command = [sys.argv[0], *(sys.argv[1:] if argv is None else argv)]
    try:
        prefixes = dataset_prefixes(args.input)
        log.info("merging %d dataset(s) into %s", len(prefixes), args.output_prefix)
        merge_datasets(prefixes, args.output_prefix, log.info, command)
    except (FileNotFoundError, ValueError, OutputBusy) as error:
        log.error("error: %s", error)
        return 1
    log.info("wrote %s.bin and %s.idx", args.output_prefix, args.output_prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
