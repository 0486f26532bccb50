"""`python -u ARGS`, forked from a warm interpreter that has already imported torch and megatron-core.

Nearly all of a tiny launch's time is start-up: each rank spends about 4 CPU seconds importing
torch, megatron-core and the trainer, and under one training. One forkserver per pytest process
imports them once; each rank is a fork of it that runs the module or script as `python -u` would
(argv, environment, working directory, sys.path, stdout and stderr, exit status, atexit handlers,
non-daemon threads), so the launch under test is the same code from its first line on.

What a fork cannot show is the import itself: its warnings went to the server. Tests of a command's
whole output (one clear line for bad input) start a real interpreter instead.
"""

from __future__ import annotations

import atexit
import io
import multiprocessing
import multiprocessing.forkserver
import os
import runpy
import subprocess
import sys
import tempfile
import threading
import traceback
import warnings
from pathlib import Path

# What a training rank imports; each fork finds them loaded. torch._dynamo is imported by torch's
# optimizers at their first step, and costs a second of its own. Not `megatron_sc2.pretrain` itself:
# `-m` runs a fresh copy of it, as `python -m` does.
PRELOAD = ["torch", "torch._dynamo", "megatron.core", "megatron_sc2.planning.cli", "megatron_sc2.runtime",
           "megatron_sc2.training.arguments", "megatron_sc2.training.trainer"]

# Read at import time by the preloaded modules, so the server starts without them.
_SERVER_UNSET = {"RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "GROUP_RANK", "MASTER_ADDR", "MASTER_PORT",
                 "OMP_NUM_THREADS"}

_context = None
_server_lock = threading.Lock()


def _forkserver():
    """The forkserver context, its server started on first use with a clean environment."""
    global _context
    with _server_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([*PRELOAD, __name__])
            saved = dict(os.environ)
            try:
                for name in _SERVER_UNSET:
                    os.environ.pop(name, None)
                multiprocessing.forkserver.ensure_running()
            finally:
                os.environ.clear()
                os.environ.update(saved)
            _context = context
    return _context


def run_python(args: list[str], cwd: Path, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    """`python -u ARGS` forked and run to the end, as subprocess.run(capture_output=True, text=True)."""
    with tempfile.TemporaryDirectory(prefix="forked-") as logs:
        out, err = Path(logs, "out"), Path(logs, "err")
        process = ForkedPython(args, out, err, cwd, env)
        if process.wait(timeout) is None:
            process.kill()
            raise subprocess.TimeoutExpired(args, timeout)
        return subprocess.CompletedProcess(args, process.returncode, out.read_text(), err.read_text())


class ForkedPython:
    """A rank started as `python -u ARGS`, with the subset of subprocess.Popen that launches use.
    ARGS may begin with `-W ACTION`, applied as the interpreter applies it."""

    def __init__(self, args: list[str], stdout: Path, stderr: Path, cwd: Path, env: dict):
        self._process = _forkserver().Process(target=_run, args=(list(map(str, args)), dict(env), str(cwd),
                                                                 str(stdout), str(stderr)))
        self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return self._process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        self._process.join(timeout)
        return self._process.exitcode

    def kill(self) -> None:
        if self._process.exitcode is None:
            self._process.kill()


def _run(args: list[str], env: dict, cwd: str, stdout: str, stderr: str) -> None:
    """In the fork: become `python -u ARGS` and exit as it would."""
    _redirect(stdout, stderr)
    # A forkserver's child inherits "forkserver" as the start method: the interpreter's default again.
    multiprocessing.set_start_method(None, force=True)
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    if "OMP_NUM_THREADS" in env:
        import torch

        torch.set_num_threads(int(env["OMP_NUM_THREADS"]))
    extra_path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    while args[0] == "-W":
        warnings.simplefilter(args[1])
        args = args[2:]
    code = 0
    try:
        if args[0] == "-m":
            sys.argv = ["-m", *args[2:]]
            sys.path[:0] = [cwd, *extra_path]
            runpy.run_module(args[1], run_name="__main__", alter_sys=True)
        else:
            sys.argv = list(args)
            sys.path[:0] = [str(Path(args[0]).resolve().parent), *extra_path]
            runpy.run_path(args[0], run_name="__main__")
    except SystemExit as exit_:
        code = _exit_status(exit_.code)
    except BaseException:  # noqa: BLE001 (the interpreter's own last resort)
        traceback.print_exc()
        code = 1
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def _redirect(stdout: str, stderr: str) -> None:
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, path in ((1, stdout), (2, stderr)):
        file = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        os.dup2(file, fd)
        os.close(file)
    sys.stdin = open(0, closefd=False)  # noqa: SIM115 (the interpreter's own stream)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), write_through=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), write_through=True, errors="backslashreplace")


def _exit_status(code) -> int:
    """As the interpreter turns SystemExit's code into a status."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1
