#!/usr/bin/env python
"""Fetch the contents of published code datasets from Software Heritage's S3 bucket, into records with `content`.

Reads the published Parquet files as published: The Stack v2 (a row per file: blob_id, src_encoding, path,
repo_name, ...), its training sets (a row per repository with a `files` list: the-stack-v2-train-full-ids,
-smol-ids), stack-edu-style blob-id sets, and records that hold `content` already (The Stack v3,
bigcode/starcoder2data-extras configs: passed through). Fetches s3://softwareheritage/content/{blob_id} (gzip),
decodes it with src_encoding, and writes OUTPUT/data/*.jsonl in the names curate.py and
preprocess_data.py --repo-context read by default (a repository's files together), and OUTPUT/stats.json (the bad
objects by reason). Killed, the same command goes on where it stopped without fetching any object again.

Examples:
  python tools/fetch_contents.py --input the-stack-v2-train-smol-ids/data/ --output fetched/smol \\
      --source the-stack-v2-train-smol --executor slurm --tasks 256 --slurm-partition cpu
  python tools/fetch_contents.py --input starcoder2data-extras/issues/ --output fetched/issues --source issues
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from megatron_sc2.fetching.objects import BAD_REASONS, MAX_ATTEMPTS


def parse_args(argv=None) -> argparse.Namespace:
    from megatron_sc2.fetching.shapes import SHAPES

    parser = argparse.ArgumentParser(
        allow_abbrev=False, description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1] + "\nBad objects (counted in stats.json, towards --max-bad-fraction):\n"
        + "\n".join(f"  {reason:17} {text}" for reason, text in BAD_REASONS.items()),
    )
    data = parser.add_argument_group("input and output")
    data.add_argument("--input", nargs="+", required=True, metavar="PATH", help="Parquet files, globs or folders")
    data.add_argument("--output", required=True, metavar="DIR", help="the folder to publish (must not exist)")
    data.add_argument("--schema", choices=sorted(SHAPES),
                      help="the published shape (default: detected from the columns: `files` per repository, "
                      "`content` inline, `blob_id` per file)")
    data.add_argument("--source", metavar="NAME",
                      help="every record's `source`, its dataset in the manifests (default: the schema's name)")
    s3 = parser.add_argument_group("S3 (boto3: the user's credentials when configured, unsigned requests otherwise)")
    s3.add_argument("--endpoint-url", metavar="URL", help="an S3-compatible endpoint instead of AWS")
    s3.add_argument("--bucket", default="softwareheritage", help="the bucket of content/{blob_id}")
    s3.add_argument("--concurrency", type=int, default=64, metavar="N",
                    help=f"requests in flight per task (throttling and 5xx are retried with backoff, up to "
                    f"{MAX_ATTEMPTS} tries)")
    run = parser.add_argument_group("run")
    run.add_argument("--rows-per-chunk", type=int, default=1000, metavar="N",
                     help="input rows per unit of work (each written whole when done)")
    run.add_argument("--max-bad-fraction", type=float, default=0.01, metavar="FRACTION",
                     help="publish nothing if more objects than this are bad (default: 0.01), as preprocess_data.py")
    run.add_argument("--executor", choices=("local", "slurm"), default="local")
    run.add_argument("--tasks", type=int, default=1, metavar="N", help="tasks sharing the chunks")
    run.add_argument("--workers", type=int, default=1, metavar="N", help="local tasks at once")
    run.add_argument("--slurm-partition", metavar="NAME", help="SLURM partition for --executor slurm")
    run.add_argument("--slurm-time", metavar="TIME", default="24:00:00", help="time limit of each SLURM task")
    args = parser.parse_args(argv)
    for flag in ("concurrency", "rows_per_chunk", "tasks", "workers"):
        if getattr(args, flag) < 1:
            parser.error(f"--{flag.replace('_', '-')} must be at least 1")
    if not 0 <= args.max_bad_fraction <= 1:
        parser.error(f"--max-bad-fraction {args.max_bad_fraction}: must be between 0 and 1")
    if (args.executor == "slurm") != bool(args.slurm_partition):
        parser.error("--executor slurm needs --slurm-partition, and --slurm-partition is for --executor slurm")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    from megatron_sc2.data.preprocess_tasks import TaskFailed
    from megatron_sc2.fetching.tasks import BadObjects, FetchConfig, run_tasks

    config = FetchConfig(
        inputs=args.input, output=args.output, schema=args.schema, source=args.source, bucket=args.bucket,
        endpoint_url=args.endpoint_url, concurrency=args.concurrency, rows_per_chunk=args.rows_per_chunk,
        max_bad_fraction=args.max_bad_fraction, workers=args.workers,
    )
    try:
        run_tasks(config, args.executor, args.tasks, args.slurm_partition, args.slurm_time)
    except (TaskFailed, BadObjects, ValueError, FileNotFoundError) as error:
        print(f"fetch_contents.py: error: {error}", file=sys.stderr)
        return 1
    if args.executor == "local":
        stats = json.loads((Path(args.output) / "stats.json").read_text())
        bad = ", ".join(f"{n:,} {reason}" for reason, n in stats["bad"].items()) or "none"
        print(f"fetch_contents.py: {stats['written']:,} of {stats['objects']:,} files in "
              f"{os.path.join(args.output, 'data')}; bad objects: {bad}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
