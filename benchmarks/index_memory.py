#!/usr/bin/env python
"""Peak memory of writing and merging indexed datasets against the number of documents.

megatron-core's IndexedDatasetBuilder keeps the index in Python lists (tens of bytes a document);
megatron_sc2's index_writer streams it to disk. Each measurement runs in a fresh process writing
one-token documents (the index is then all there is) and prints that process's peak RSS:
  - write: N documents into one dataset, by our writer and (up to --builder-up-to) by megatron-core's;
  - merge: --shards shards holding N documents in all, by tools/merge_datasets.py's code path and
    (up to --builder-up-to) by megatron-core's add_index.
The goal is flat: our peak RSS at the largest N within a few MB of the smallest.

Example:
  python benchmarks/index_memory.py --documents 1e6 1e7 5e7 --shards 1000 --builder-up-to 1e7
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write(tool: str, prefix: str, documents: int) -> None:
    token = np.array([7], dtype=np.uint16)
    if tool == "ours":
        from megatron_sc2.data.index_writer import IndexedDatasetWriter

        writer = IndexedDatasetWriter(Path(prefix + ".bin"), np.uint16)
        for _ in range(documents):
            writer.add(token)
        writer.finalize(Path(prefix + ".idx"))
    else:
        from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

        builder = IndexedDatasetBuilder(prefix + ".bin", dtype=np.uint16)
        for _ in range(documents):
            builder.add_document(token, [1])
        builder.finalize(prefix + ".idx")


def merge(tool: str, shards: list[str], prefix: str) -> None:
    if tool == "ours":
        from megatron_sc2.data.merge import merge_datasets

        merge_datasets(shards, prefix, log=lambda line: None)
    else:
        from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

        builder = IndexedDatasetBuilder(prefix + ".bin", dtype=np.uint16)
        for shard in shards:
            builder.add_index(shard)
        builder.finalize(prefix + ".idx")


def child(args: argparse.Namespace) -> None:
    import warnings

    warnings.filterwarnings("ignore")
    import megatron.core.datasets.indexed_dataset  # noqa: F401  (its import is the same baseline for both)

    baseline, started = peak_rss_mb(), time.perf_counter()
    if args.child == "write":
        write(args.tool, args.prefix, int(args.n))
    else:
        merge(args.tool, sorted(str(p)[:-4] for p in Path(args.shard_dir).glob("*.idx")), args.prefix)
    print(f"{peak_rss_mb():.1f} {baseline:.1f} {time.perf_counter() - started:.1f}")


def measure(*argv: str) -> tuple[float, float, float]:
    out = subprocess.run([sys.executable, __file__, *argv], check=True, capture_output=True, text=True).stdout
    peak, baseline, seconds = map(float, out.split())
    return peak, baseline, seconds


def make_shards(folder: Path, shards: int, documents: int) -> Path:
    """`shards` hard links of one shard, together `documents` one-token documents."""
    from megatron_sc2.data.index_writer import IndexedDatasetWriter

    folder.mkdir()
    writer = IndexedDatasetWriter(folder / "template.bin", np.uint16)
    for _ in range(documents // shards):
        writer.add(np.array([7], dtype=np.uint16))
    writer.finalize(folder / "template.idx")
    shard_dir = folder / "shards"
    shard_dir.mkdir()
    for i in range(shards):
        for ext in (".bin", ".idx"):
            os.link(folder / f"template{ext}", shard_dir / f"shard{i:05d}{ext}")
    return shard_dir


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0],
                                     epilog=__doc__.split("\n\n", 1)[1],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", nargs="+", type=float, default=[1e6, 1e7, 5e7], metavar="N")
    parser.add_argument("--shards", type=int, default=1000, metavar="N")
    parser.add_argument("--builder-up-to", type=float, default=1e7, metavar="N",
                        help="measure megatron-core's builder only up to this many documents")
    parser.add_argument("--child", choices=["write", "merge"], help=argparse.SUPPRESS)
    parser.add_argument("--tool", choices=["ours", "megatron-core"], help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--n", help=argparse.SUPPRESS)
    parser.add_argument("--shard-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args)
    print(f"load average at start: {os.getloadavg()[0]:.2f}; peak RSS in MB (import baseline), seconds")
    print(f"{'documents':>12} {'step':>6} {'ours':>22} {'megatron-core':>22}")
    tools = ("ours", "megatron-core")
    for n in map(int, args.documents):
        with tempfile.TemporaryDirectory() as tmp:
            shard_dir = make_shards(Path(tmp) / "merge", args.shards, n)
            for step in ("write", "merge"):
                cells = []
                for tool in tools:
                    if tool != "ours" and n > args.builder_up_to:
                        cells.append("-")
                        continue
                    where = ["--shard-dir", str(shard_dir)] if step == "merge" else ["--n", str(n)]
                    peak, baseline, seconds = measure("--child", step, "--tool", tool,
                                                      "--prefix", f"{tmp}/{step}-{tool}", *where)
                    cells.append(f"{peak:7.0f} ({baseline:4.0f}) {seconds:6.1f} s")
                    for ext in (".bin", ".idx"):
                        Path(f"{tmp}/{step}-{tool}{ext}").unlink(missing_ok=True)
                print(f"{n:>12,} {step:>6} {cells[0]:>22} {cells[1]:>22}", flush=True)


if __name__ == "__main__":
    main()
