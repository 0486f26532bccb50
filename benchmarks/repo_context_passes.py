#!/usr/bin/env python
"""What the two passes of a partitioned repository-context run cost against one single run.

Corpus: `--copies` copies of Python's standard library (tools/make_stdlib_corpus.py --repeat), one
JSONL file per copy (distinct repository names), so that the readers of pass 1 get disjoint slices. Runs tools/preprocess_data.py
--repo-context once over everything, then as --partitions readers (--route) and --partitions
tokenizing partitions followed by tools/merge_datasets.py, and prints the CPU seconds per MB of each,
their ratio, and whether the merged dataset is the single run's bytes.

Example:
  python benchmarks/repo_context_passes.py --copies 16 --partitions 4 --workers 2
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from megatron_sc2.support import REPO, run_tool

TOOL = [sys.executable, str(REPO / "tools" / "preprocess_data.py")]


def split_corpus(corpus: Path, folder: Path, copies: int) -> float:
    """One file per copy (copy k's records are the k-th run of equal length); returns MB of text."""
    lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)
    per_copy = len(lines) // copies
    folder.mkdir()
    for k in range(copies):
        (folder / f"copy{k:03d}.jsonl").write_text("".join(lines[k * per_copy : (k + 1) * per_copy]))
    return sum(len(json.loads(line)["content"].encode()) for line in lines[: copies * per_copy]) / 1e6


def cpu_seconds(command: list[str]) -> float:
    """CPU seconds of the command's process tree."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode:
        raise SystemExit(f"{' '.join(command[:3])} ... failed:\n{result.stderr[-3000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=16, metavar="N")
    parser.add_argument("--partitions", type=int, default=4, metavar="N")
    parser.add_argument("--workers", type=int, default=2, metavar="N")
    parser.add_argument("--tokenizer-model", metavar="DIR", help="default: train a 49,152-token one on stdlib")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-repo-passes-"))
    run_tool("make_stdlib_corpus.py", work / "all.jsonl", "--repeat", args.copies)
    mb = split_corpus(work / "all.jsonl", work / "corpus", args.copies)
    tokenizer = args.tokenizer_model
    if tokenizer is None:
        tokenizer = str(work / "tokenizer")
        run_tool("make_stdlib_corpus.py", work / "one.jsonl")
        run_tool("train_tokenizer.py", work / "one.jsonl", "--output-dir", tokenizer, "--vocab-size", 49152)
    common = ["--input", str(work / "corpus"), "--repo-context", "--tokenizer-type", "HuggingFaceTokenizer",
              "--tokenizer-model", tokenizer, "--workers", str(args.workers), "--log-interval", "1000000"]
    print(f"load average at start: {os.getloadavg()[0]:.2f}; {mb:.1f} MB of text in {args.copies} files")
    single = cpu_seconds([*TOOL, *common, "--output-prefix", str(work / "single")])
    n = args.partitions
    partitioned = ["--num-partitions", str(n), "--route-dir", str(work / "route")]
    route = sum(cpu_seconds([*TOOL, *common, *partitioned, "--partition-index", str(i), "--route",
                             "--output-prefix", str(work / "unused")]) for i in range(n))
    tokenize = sum(cpu_seconds([*TOOL, *common, *partitioned, "--partition-index", str(i),
                                "--output-prefix", str(work / "parts" / f"p{i:03d}")]) for i in range(n))
    merged = str(work / "merged_content_document")
    merge = cpu_seconds([sys.executable, str(REPO / "tools" / "merge_datasets.py"),
                         "--input", str(work / "parts"), "--output-prefix", merged])
    read = [json.loads((work / "route" / f"reader-{i:05d}" / "stats.json").read_text())["records_read"]
            for i in range(n)]
    same = all(filecmp.cmp(merged + ext, str(work / "single_content_document") + ext, shallow=False)
               for ext in (".bin", ".idx"))
    two_pass = route + tokenize + merge
    print(f"single run:  {single:7.1f} CPU s  {single / mb:.3f} CPU s/MB")
    print(f"{n} readers:   {route:7.1f} CPU s (records read per reader: {read})")
    print(f"{n} partitions: {tokenize:6.1f} CPU s; merge {merge:.1f} CPU s")
    print(f"two passes:  {two_pass:7.1f} CPU s  {two_pass / mb:.3f} CPU s/MB = {two_pass / single:.2f}x the single "
          f"run; merged bytes equal the single run's: {same}")
    print(f"pass 1 (routing) costs {route / single:.1%} of the single run; pass 2 {tokenize / single:.2f}x it "
          f"({n} processes, each paying the single run's start-up: importing megatron-core, loading the tokenizer)")
    shutil.rmtree(work)


if __name__ == "__main__":
    main()
