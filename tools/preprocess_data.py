#!/usr/bin/env python
"""Tokenize JSONL / Parquet code corpora into Megatron indexed datasets ({prefix}_{key}_document.bin/.idx).

Flags follow Megatron-LM's tools/preprocess_data.py, and for the same input and tokenizer the token
stream is the same; the output is read by megatron-core's IndexedDataset / GPTDataset unchanged.
Added: StarCoder2 repository context, bad-input accounting, partitioned multi-node runs.

Examples:
  # plain documents, like Megatron-LM
  python tools/preprocess_data.py --input 'data/*.jsonl.zst' --output-prefix out/stack \\
      --tokenizer-type HuggingFaceTokenizer --tokenizer-model sc2-tokenizer/ --append-eod --workers 8

  # one document per repository (StarCoder2 §4.1), node 3 of 16: first every node routes its slice of
  # the input (--route), then every node tokenizes its repositories
  python tools/preprocess_data.py --input data/ --output-prefix out/stack-p03 --repo-context --repo-key repo_name \\
      --tokenizer-type HuggingFaceTokenizer --tokenizer-model sc2-tokenizer/ \\
      --partition-index 3 --num-partitions 16 --route-dir out/route --route
  python tools/preprocess_data.py ...the same... --partition-index 3 --num-partitions 16 --route-dir out/route
  python tools/merge_datasets.py --input 'out/stack-p*_content_document' --output-prefix out/stack_content_document
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import warnings

from megatron_sc2.data.preprocess import BadInputError, PreprocessConfig, preprocess
from megatron_sc2.data.records import SKIP_REASONS
from megatron_sc2.publish import OutputBusy

DEFAULTS = PreprocessConfig(inputs=[], output_prefix="", tokenizer_type="", tokenizer_model="")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1]
        + "\nSkip reasons (counted, reported, never written):\n"
        + "\n".join(f"  {reason:16} {text}" for reason, (text, _) in SKIP_REASONS.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    data = parser.add_argument_group("input and output")
    data.add_argument(
        "--input",
        nargs="+",
        required=True,
        metavar="PATH",
        help="files, globs or folders: .jsonl/.json (optionally .gz or .zst) and .parquet",
    )
    data.add_argument(
        "--output-prefix",
        required=True,
        metavar="PREFIX",
        help="writes {prefix}_{key}_document.bin/.idx/.tokenizer-id.json/.manifest.json and {prefix}_stats.json",
    )
    data.add_argument(
        "--json-keys",
        metavar="KEY",
        nargs="+",
        default=DEFAULTS.json_keys,
        help="record keys to tokenize, one dataset each (default: content)",
    )
    tok = parser.add_argument_group("tokenizer")
    tok.add_argument(
        "--tokenizer-type",
        required=True,
        metavar="TYPE",
        help="HuggingFaceTokenizer or SentencePieceTokenizer",
    )
    tok.add_argument("--tokenizer-model", required=True, metavar="PATH", help="tokenizer folder or file")
    tok.add_argument("--append-eod", action="store_true", help="end every document with the EOD token")
    repo = parser.add_argument_group("StarCoder2 repository context")
    repo.add_argument(
        "--repo-context",
        action="store_true",
        help="one document per repository: files shuffled, <repo_name>/<file_sep> format, EOD at the end",
    )
    repo.add_argument(
        "--repo-key", metavar="KEY", default=DEFAULTS.repo_key, help="record key of the repository name"
    )
    repo.add_argument(
        "--path-key", metavar="KEY", default=DEFAULTS.path_key, help="record key of the file path"
    )
    repo.add_argument(
        "--seed", type=int, metavar="N", default=DEFAULTS.seed, help="seed of file order and metadata choice"
    )
    run = parser.add_argument_group("run")
    run.add_argument(
        "--workers",
        metavar="N",
        type=int,
        default=len(os.sched_getaffinity(0)),
        help="encoding threads (default: all available cores)",
    )
    run.add_argument(
        "--log-interval",
        type=int,
        metavar="N",
        default=DEFAULTS.log_interval,
        help="documents between progress lines",
    )
    run.add_argument(
        "--max-document-bytes",
        metavar="BYTES",
        type=int,
        default=DEFAULTS.max_document_bytes,
        help="skip larger documents; repositories larger than this are split (default: 16 MiB)",
    )
    run.add_argument(
        "--max-bad-fraction",
        metavar="FRACTION",
        type=float,
        default=DEFAULTS.max_bad_fraction,
        help="fail, writing nothing, if more records than this are bad input (default: 0.01)",
    )
    run.add_argument(
        "--partition-index",
        type=int,
        metavar="I",
        default=0,
        help="this job's partition, for multi-node runs",
    )
    run.add_argument(
        "--num-partitions",
        metavar="N",
        type=int,
        default=1,
        help="partitions of the whole input; merge them with tools/merge_datasets.py",
    )
    run.add_argument(
        "--route-dir",
        metavar="DIR",
        help="--repo-context over several partitions: the folder all of them share for the first pass",
    )
    run.add_argument(
        "--route",
        action="store_true",
        help="run only the first pass: route this partition's input slice into --route-dir",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.partition_index < args.num_partitions:
        parser.error(
            f"--partition-index {args.partition_index} is not in [0, --num-partitions {args.num_partitions})"
        )
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    warnings.filterwarnings("ignore", module="megatron")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", stream=sys.stderr)
    logging.getLogger("megatron_sc2").setLevel(logging.INFO)
    config = PreprocessConfig(
        inputs=args.input, output_prefix=args.output_prefix, json_keys=args.json_keys,
        tokenizer_type=args.tokenizer_type, tokenizer_model=args.tokenizer_model, append_eod=args.append_eod,
        workers=args.workers, log_interval=args.log_interval, repo_context=args.repo_context,
        repo_key=args.repo_key, path_key=args.path_key, seed=args.seed,
        max_document_bytes=args.max_document_bytes, max_bad_fraction=args.max_bad_fraction,
        partition_index=args.partition_index, num_partitions=args.num_partitions,
        route_dir=args.route_dir, route=args.route,
        command=[sys.argv[0], *(sys.argv[1:] if argv is None else argv)],
    )  # fmt: skip
    try:
        preprocess(config)
    except (BadInputError, OutputBusy, FileNotFoundError, ValueError, KeyError) as error:
        logging.getLogger("megatron_sc2").error("error: %s", error)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
