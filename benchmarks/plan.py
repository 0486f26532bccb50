#!/usr/bin/env python
"""Cost of planning a launch on a CPU: `python -m megatron_sc2.pretrain --config sc2-15b.yaml
--dry-run --world-size 1024` (both stages, StarCoder2's 49,152-token vocabulary) in a fresh process,
as a login node runs it. Prints its wall seconds and peak RSS against the goal (under 60 s and
2 GB on a 2-core machine); each round is a fresh process, the best round is reported.

  python benchmarks/plan.py [--world-size 1024] [--rounds 3] [--data-root DIR]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from megatron_sc2.support import REPO, SMALL, stdlib_dataset

GOAL_SECONDS, GOAL_RSS_GB = 60.0, 2.0


def plan_once(data: dict, world_size: int, save: Path) -> tuple[float, float]:
    """(wall seconds, peak RSS in GB) of one planning process."""
    start = time.perf_counter()
    process = subprocess.Popen([
        sys.executable, "-W", "ignore", "-m", "megatron_sc2.pretrain", "--config",
        str(REPO / "examples/configs/sc2-15b.yaml"), "--data-path", str(data["prefix"]), "--tokenizer-model",
        str(data["tokenizer"]), "--vocab-size", "49152", "--save", str(save), "--dry-run", "--world-size",
        str(world_size)], cwd=REPO, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"the plan failed ({os.waitstatus_to_exitcode(status)})")
    return time.perf_counter() - start, usage.ru_maxrss * 1024 / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--world-size", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--data-root", type=Path, default=Path(tempfile.gettempdir()) / "megatron_sc2-bench-data",
                        help="where the small stdlib dataset and tokenizer are made once (only their existence "
                             "and the tokenizer are read)")
    args = parser.parse_args()
    data = stdlib_dataset(args.data_root, packages=SMALL)
    with tempfile.TemporaryDirectory() as save:
        rounds = [plan_once(data, args.world_size, Path(save)) for _ in range(args.rounds)]
    seconds, rss = min(s for s, _ in rounds), max(r for _, r in rounds)
    print(f"plan sc2-15b at {args.world_size} GPUs, both stages: {seconds:.1f} s wall (best of {args.rounds}: "
          f"{', '.join(f'{s:.1f}' for s, _ in rounds)}), peak RSS {rss:.2f} GB (largest round)")
    print(f"ratio to goal: time {seconds / GOAL_SECONDS:.2f} of {GOAL_SECONDS:g} s, "
          f"memory {rss / GOAL_RSS_GB:.2f} of {GOAL_RSS_GB:g} GB")


if __name__ == "__main__":
    main()
