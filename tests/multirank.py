"""Run a worker script under torchrun with N real processes on gloo."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORKERS = Path(__file__).resolve().parent / "workers"


TORCHRUN_VARIABLES = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR"}


def launcher_environment() -> dict:
    """This process's environment without torchrun's variables: a test of the runtime in this process
    leaves them behind, and in a child launched by MPI or SLURM they would take precedence."""
    return {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(script: str, nproc: int, *args, timeout: int = 300, env: dict | None = None,
             check: bool = True) -> subprocess.CompletedProcess:
    cmd = [
        sys.executable, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}",
        "--master-addr=127.0.0.1", f"--master-port={free_port()}",
        str(WORKERS / script) if not Path(script).is_absolute() else script, *map(str, args),
    ]
    # Workers import the package and the shared worker helpers (tests/workers).
    full_env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}:{WORKERS}", **(env or {})}
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=full_env, cwd=REPO,
                            check=False)
    if check and result.returncode != 0:
        raise AssertionError(
            f"torchrun {script} x{nproc} failed ({result.returncode}):\n{result.stdout[-4000:]}\n{result.stderr[-8000:]}"
        )
    return result
