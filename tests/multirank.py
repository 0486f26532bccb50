"""Run N real ranks on gloo: a worker script of the tests, or `python -m megatron_sc2.pretrain`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
from forked_python import ForkedPython

from megatron_sc2.support import free_port

REPO = Path(__file__).resolve().parents[1]
WORKERS = Path(__file__).resolve().parent / "workers"


TORCHRUN_VARIABLES = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR"}


def launcher_environment() -> dict:
    """This process's environment without torchrun's variables: a test of the runtime in this process
    leaves them behind, and in a child launched by MPI or SLURM they would take precedence."""
    return {k: v for k, v in os.environ.items() if k not in TORCHRUN_VARIABLES}


class Ranks:
    """`python -u COMMAND` as `nproc` ranks on this machine, with the variables torchrun exports.

    Each rank is started directly, forked from a warm interpreter (forked_python): torchrun's agent
    would cost every launch 2 more CPU seconds, and each rank's imports about 4. As torchrun does,
    the first rank that fails stops the others (SIGTERM, then SIGKILL), and the launch's output is
    every rank's, in rank order. The launch runs through torchrun where a test signals torchrun
    itself (test_preemption, test_stop_and_errors' SIGTERM, test_lost_node), and through SLURM and
    Open MPI in theirs.
    """

    def __init__(self, command: list[str], nproc: int, env: dict, logs: Path, python: str = sys.executable):
        self.command = [*map(str, command)]
        self.outputs = [(logs / f"{rank}.out", logs / f"{rank}.err") for rank in range(nproc)]
        port = free_port()
        self.ranks = [_start(self.command, out, err, python,
                             {**env, "RANK": str(rank), "LOCAL_RANK": str(rank), "WORLD_SIZE": str(nproc),
                              "GROUP_RANK": "0", "LOCAL_WORLD_SIZE": str(nproc), "MASTER_ADDR": "127.0.0.1",
                              "MASTER_PORT": str(port)})
                      for rank, (out, err) in enumerate(self.outputs)]

    def poll(self) -> int | None:
        """None while a rank runs; then the first non-zero status, or 0. A failed rank stops the rest."""
        if any(r.poll() is None for r in self.ranks):
            if any(r.returncode for r in self.ranks):
                self._stop()
            return None
        return next((r.returncode for r in self.ranks if r.returncode), 0)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while (status := self.poll()) is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(self.command, timeout)
            time.sleep(0.05)
        return status

    def run_until(self, done, timeout: float = 300) -> None:
        """Until `done()`, failing with the ranks' output if they end first."""
        deadline = time.monotonic() + timeout
        while not done():
            assert self.poll() is None, self.output()[1][-3000:]
            assert time.monotonic() < deadline, f"not done after {timeout} s"
            time.sleep(0.05)

    def send_signal(self, sig: int) -> None:
        """To every rank, as SLURM signals a job's tasks or a lost node takes them."""
        for rank in self.ranks:
            if rank.poll() is None:
                os.kill(rank.pid, sig)

    def kill(self) -> None:
        """SIGKILL to every rank and what it started, at once, as a lost node takes them."""
        processes = []
        for rank in self.ranks:
            with contextlib.suppress(psutil.NoSuchProcess):
                process = psutil.Process(rank.pid)
                processes += [process, *process.children(recursive=True)]
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        for rank in self.ranks:
            rank.wait()
        psutil.wait_procs(processes)

    def output(self) -> tuple[str, str]:
        return tuple("".join(f[i].read_text(errors="replace") for f in self.outputs) for i in (0, 1))

    def _stop(self, patience_s: float = 30.0) -> None:
        self.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + patience_s
        while any(r.poll() is None for r in self.ranks) and time.monotonic() < deadline:
            time.sleep(0.05)


def run_ranks(command: list[str], nproc: int, env: dict, timeout: float = 300, python: str = sys.executable,
              check: bool = True) -> subprocess.CompletedProcess:
    """`Ranks` run to the end: their status and output."""
    with tempfile.TemporaryDirectory(prefix="ranks-") as logs:
        ranks = Ranks(command, nproc, env, Path(logs), python)
        try:
            returncode = ranks.wait(timeout)
        finally:
            ranks.kill()
        stdout, stderr = ranks.output()
    result = subprocess.CompletedProcess(command, returncode, stdout, stderr)
    if check and returncode != 0:
        raise AssertionError(f"{command[:2]} x{nproc} failed ({returncode}):\n{stdout[-4000:]}\n{stderr[-8000:]}")
    return result


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
