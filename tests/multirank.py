"""Run N real ranks on gloo: a worker script of the tests, or `python -m megatron_sc2.pretrain`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from forked_python import ForkedPython

from megatron_sc2.support import free_port

REPO = Path(__file__).resolve().parents[1]
WORKERS = Path(__file__).resolve().parent / "workers"


TORCHRUN_VARIABLES = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR"}


def launcher_environment() -> dict:
    """This process's environment without torchrun's variables: a test of the runtime in this process
    leaves them behind, and in a child launched by MPI or SLURM they would take precedence."""
    return {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}


def run_ranks(command: list[str], nproc: int, env: dict, timeout: float = 300, python: str = sys.executable,
              check: bool = True) -> subprocess.CompletedProcess:
    """`python -u COMMAND` as `nproc` ranks on this machine, with the variables torchrun exports.

    Each rank is started directly, forked from a warm interpreter (forked_python): torchrun's agent
    would cost every launch 2 more CPU seconds, and each rank's imports about 4. As
    torchrun does, the first rank that fails stops the others (SIGTERM, then SIGKILL), and the
    launch's output is every rank's, in rank order. The launch itself runs through torchrun in the
    tests that signal it or its workers (test_preemption, test_resume's kill test, test_lost_node,
    test_save_lock), and through SLURM and Open MPI in theirs.
    """
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="ranks-") as logs:
        outputs = [(Path(logs, f"{rank}.out"), Path(logs, f"{rank}.err")) for rank in range(nproc)]
        ranks = [_start([*map(str, command)], out, err, python,
                        {**env, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(nproc),
                         "GROUP_RANK": "0", "LOCAL_WORLD_SIZE": str(nproc), "MASTER_ADDR": "127.0.0.1",
                         "MASTER_PORT": str(port)})
                 for rank, (out, err) in enumerate(outputs)]
        deadline = time.monotonic() + timeout
        try:
            while any(r.poll() is None for r in ranks):
                if any(r.returncode for r in ranks):
                    _stop(ranks)
                if time.monotonic() > deadline:
                    raise subprocess.TimeoutExpired(command, timeout)
                time.sleep(0.05)
        finally:
            for rank in ranks:
                rank.kill()
                rank.wait()
        stdout, stderr = ("".join(f[i].read_text(errors="replace") for f in outputs) for i in (0, 1))
    returncode = next((r.returncode for r in ranks if r.returncode), 0)
    result = subprocess.CompletedProcess(command, returncode, stdout, stderr)
    if check and returncode != 0:
        raise AssertionError(f"{command[:2]} x{nproc} failed ({returncode}):\n{stdout[-4000:]}\n{stderr[-8000:]}")
    return result


def _stop(ranks: list[subprocess.Popen], patience_s: float = 30.0) -> None:
    for rank in ranks:
        if rank.poll() is None:
            rank.terminate()
    deadline = time.monotonic() + patience_s
    while any(r.poll() is None for r in ranks) and time.monotonic() < deadline:
        time.sleep(0.05)


def _start(args: list[str], stdout: Path, stderr: Path, python: str, env: dict):
    """This interpreter's ranks fork from the warm one (forked_python); another environment's start cold."""
    with stdout.open("w") as out, stderr.open("w") as err:
        if python == sys.executable:
            return ForkedPython(args, stdout, stderr, REPO, env)
        return subprocess.Popen([python, "-u", *args], stdout=out, stderr=err, cwd=REPO, env=env)


def run_worker(script: str, nproc: int, *args, timeout: int = 300) -> subprocess.CompletedProcess:
    """A worker script of tests/workers (or an absolute path) as `nproc` ranks on gloo."""
    path = script if Path(script).is_absolute() else str(WORKERS / script)
    # Workers import the package and the shared worker helpers (tests/workers).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": f"{REPO}:{WORKERS}"}
    return run_ranks([path, *args], nproc, env, timeout=timeout)
