#!/usr/bin/env python
"""Start-up cost: importing what `python -m megatron_sc2.pretrain` imports, side by side with
importing megatron-core alone (which decorates its jit fusions with torch.compile, importing
TorchDynamo and Inductor; megatron_sc2 skips that without CUDA: megatron_sc2/jit_fusions.py).

Every rank of every launch pays this before its first step. Rounds alternate the two imports in
fresh processes; each figure is the best round's CPU seconds (user + system), which other load on
the machine changes less than wall time.

  python benchmarks/startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

IMPORTS = {
    "megatron-core alone": "import megatron.core.models.gpt, megatron.core.optimizer, megatron.core.pipeline_parallel",
    "megatron_sc2 trainer": "import megatron_sc2.training.trainer",
}


def cpu_seconds(statement: str) -> float:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run([sys.executable, "-W", "ignore", "-c", statement], check=True, cwd=REPO,
                   env={"PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    best = {name: float("inf") for name in IMPORTS}
    for _ in range(args.rounds):
        for name, statement in IMPORTS.items():
            best[name] = min(best[name], cpu_seconds(statement))
    for name, seconds in best.items():
        print(f"{name:22s} {seconds:6.2f} CPU s")
    baseline, ours = best["megatron-core alone"], best["megatron_sc2 trainer"]
    print(f"ratio megatron_sc2 trainer / megatron-core alone: {ours / baseline:.2f}")


if __name__ == "__main__":
    main()
