#!/usr/bin/env python
"""The checkpoint writer's results queue, spawned (megatron-core's default) beside forked (what
megatron_sc2 starts, as Megatron-LM does: mcore_compat.start_write_results_queue).

Every rank that saves starts one. Each round runs both in fresh processes that first import the
trainer, as a rank has, then start the queue and pass one save's write results through it, as the
first save does; the figures are the best round's, in wall seconds and CPU seconds (the process
and the queue's server together).

  python benchmarks/results_queue.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

RANK = """
import multiprocessing, sys, time
import megatron_sc2.training.trainer
from torch.distributed.checkpoint.storage import WriteResult
from torch.distributed.checkpoint.metadata import MetadataIndex
start = time.perf_counter()
queue = multiprocessing.get_context(sys.argv[1]).Manager().Queue()
queue.put({0: [WriteResult(index=MetadataIndex("weight"), size_in_bytes=1, storage_data=None)]})
queue.get()
print(time.perf_counter() - start)
"""


def run(mode: str) -> tuple[float, float]:
    """(seconds from starting the queue to the first results read back, CPU seconds of the whole process)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    shown = subprocess.run([sys.executable, "-W", "ignore", "-c", RANK, mode], check=True, capture_output=True,
                           text=True, cwd=REPO, env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                                                     "PATH": "/usr/bin:/bin"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return float(shown.stdout), (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    best = {mode: (float("inf"), float("inf")) for mode in ("spawn", "fork")}
    started = time.perf_counter()
    for _ in range(args.rounds):
        for mode in best:
            wall, cpu = run(mode)
            best[mode] = (min(best[mode][0], wall), min(best[mode][1], cpu))
    for mode, (wall, cpu) in best.items():
        print(f"{mode:6s} queue: first results back after {wall:5.2f} s; rank + server {cpu:5.2f} CPU s")
    (spawn_wall, spawn_cpu), (fork_wall, fork_cpu) = best["spawn"], best["fork"]
    print(f"per saving rank, forked saves {spawn_wall - fork_wall:.2f} s of waiting and "
          f"{spawn_cpu - fork_cpu:.2f} CPU s (ratio of CPU, fork / spawn: {fork_cpu / spawn_cpu:.2f}); "
          f"{time.perf_counter() - started:.0f} s in all")


if __name__ == "__main__":
    main()
