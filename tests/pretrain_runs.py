"""Launch `python -m megatron_sc2.pretrain` under torchrun with a tiny model, and read its metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from multirank import REPO, Ranks, run_ranks

from megatron_sc2.support import torchrun_command

# A single-stage schedule; multi-stage tests set theirs per stage in the config file.
SCHEDULE = ["--lr", "3e-3", "--min-lr", "3e-4", "--lr-warmup-iters", "2"]


def base_args(data: dict, workdir: Path, *extra) -> list[str]:
    return [
        "--model", "sc2-tiny", "--data-path", str(data["prefix"]), "--data-cache-path", str(data["cache"]),
        "--tokenizer-model", str(data["tokenizer"]), "--split", "98,2,0", "--micro-batch-size", "2",
        "--log-interval", "1",
        "--eval-interval", "1000", "--eval-iters", "1", "--num-workers", "0",
        "--metrics-file", str(workdir / "metrics.jsonl"), *map(str, extra),
    ]


def environment() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def pretrain(nproc: int, args: list[str], timeout: int = 600, check: bool = True,
             python: str = sys.executable) -> subprocess.CompletedProcess:
    """Run to the end, as `nproc` ranks started directly (multirank.run_ranks); `python` may be another
    environment's (another megatron-core)."""
    return run_ranks(["-m", "megatron_sc2.pretrain", *args], nproc, environment(), timeout=timeout, python=python,
                     check=check)


def start_ranks(nproc: int, args: list[str], logs: Path) -> Ranks:
    """In the background, as ranks started directly (multirank.Ranks), their output in `logs`."""
    logs.mkdir(parents=True, exist_ok=True)
    return Ranks(["-m", "megatron_sc2.pretrain", *args], nproc, environment(), logs)


def start_pretrain(nproc: int, args: list[str], log: Path) -> subprocess.Popen:
    """In the background under torchrun, in its own process group (so a test can signal torchrun and
    its workers, as SLURM does)."""
    return subprocess.Popen(torchrun_command(nproc, args), stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env=environment(), cwd=REPO, start_new_session=True)


def read_metrics(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def losses(path: Path) -> dict[int, float]:
    """iteration -> training loss; a resumed run's later line for an iteration wins."""
    return {m["iteration"]: m["loss"] for m in read_metrics(path) if m.get("loss") is not None}
