#!/usr/bin/env python
"""Tokenize JSONL / Parquet code corpora into Megatron indexed datasets ({prefix}_{key}_document.bin/.idx).

Flags follow Megatron-LM's tools/preprocess_data.py, and for the same input and tokenizer the token
stream is the same; the output is read by megatron-core's IndexedDataset / GPTDataset unchanged.
Added: StarCoder2 repository context, bad-input accounting, partitioned multi-node runs.

Examples:
  # plain documents, like Megatron-LM
  python tools/preprocess_data.py --input 'data/*.jsonl.zst' --output-prefix out/stack \\
      --tokenizer-type HuggingFaceTokenizer --tokenizer-model sc2-tokenizer/ --append-eod --workers 8

  # the same as 64 SLURM tasks of 16 threads, then their merge: submits dependent job arrays and returns;
  # the same command again skips the completed tasks and runs the failed ones
  python tools/preprocess_data.py ...the same... --workers 16 --executor slurm --tasks 64 --slurm-partition cpu

  # with a scheduler of your own: one document per repository (StarCoder2 §4.1), node 3 of 16; first
  # every node routes its slice of the input (--route), then every node tokenizes its repositories
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
        "--repo-key", metavar="KEY", default=DEFAULTS.repo_key,
        help="record key of the repository name (default: repo_name, or repository where a record has no "
        "repo_name: The Stack v2's and tools/curate.py's default schema's names)",
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
    tasks = parser.add_argument_group("tasks (datatrove's executors)")
    tasks.add_argument(
        "--executor",
        choices=("local", "slurm"),
        help="run --tasks partitions as datatrove tasks (local: as many at once as --workers fit on the cores; "
        "slurm: dependent job arrays), then merge them into --output-prefix; work files in {prefix}.tasks/",
    )
    tasks.add_argument("--tasks", type=int, metavar="N", help="partitions for --executor (default: 1)")
    tasks.add_argument("--slurm-partition", metavar="NAME", help="SLURM partition for --executor slurm")
    tasks.add_argument("--slurm-time", metavar="TIME", default="24:00:00", help="time limit of each SLURM task")
    args = parser.parse_args(argv)
    check_executor_args(parser, args)
    if not 0 <= args.partition_index < args.num_partitions:
        parser.error(
            f"--partition-index {args.partition_index} is not in [0, --num-partitions {args.num_partitions})"
        )
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    return args


def check_executor_args(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.executor is None:
        if args.tasks is not None or args.slurm_partition:
            parser.error("--tasks and --slurm-partition are for --executor runs")
        return
    if args.num_partitions > 1 or args.route or args.route_dir:
        parser.error("--executor makes the partitions itself: leave out --partition-index, --num-partitions, "
                     "--route and --route-dir (they are for your own scheduler)")
    args.tasks = 1 if args.tasks is None else args.tasks
    if args.tasks < 1:
        parser.error("--tasks must be at least 1")
    if args.executor == "slurm" and not args.slurm_partition:
        parser.error("--executor slurm needs --slurm-partition")
    if args.executor == "local" and args.slurm_partition:
        parser.error("--slurm-partition is for --executor slurm")


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
    errors = (BadInputError, OutputBusy, FileNotFoundError, ValueError, KeyError)
    try:
        if args.executor is None:
            preprocess(config)
        else:
            from megatron_sc2.data import preprocess_tasks  # imports datatrove: only when asked for

            errors += (preprocess_tasks.TaskFailed,)
            executor = preprocess_tasks.Executor(args.executor, args.tasks, args.slurm_partition, args.slurm_time)
            preprocess_tasks.run_tasks(config, executor)
    except errors as error:
        logging.getLogger("megatron_sc2").error("error: %s", error)
        return 1
    except OSError as error:  # a read-only or full file system, most often
        where = error.filename or f"writing --output-prefix {args.output_prefix}"
        logging.getLogger("megatron_sc2").error("error: %s: %s; nothing was published", where, error.strerror)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
