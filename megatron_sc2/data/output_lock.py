"""One writer per output prefix: an exclusive lock, per-run temporary names, and cleanup after dead runs.

Two runs writing one prefix would otherwise mix their bytes into a dataset that loads and is wrong.
`{prefix}.lock` is held with `flock` for the whole run and names its owner (host, pid, start time).
The kernel drops the lock when its owner dies, however it dies, so a lock file whose lock is free is
stale and is taken over. Everything a run writes goes first into its own `{prefix}.partial-HOST-PID/`
folder; while the lock is held, any other such folder belongs to a dead run and is removed. Before
publishing, the owner checks the lock file is still the one it holds (it may have been deleted and
taken by another run).
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Self


class OutputBusy(RuntimeError):
    """The prefix is written by another run, or this run lost its lock."""


class OutputLock:
    def __init__(self, prefix: str, log: Callable[[str], None]):
        self.prefix, self.log = prefix, log
        self.path = Path(f"{prefix}.lock")
        self.staging = Path(f"{prefix}.partial-{socket.gethostname()}-{os.getpid()}")
        self.owner = f"host {socket.gethostname()} pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M')}"
        self._fd: int | None = None

    def __enter__(self) -> Self:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = self._lock()
        previous = os.read(self._fd, 4096).decode(errors="replace").strip()
        if previous:
            self.log(f"{self.path}: its owner ({previous}) is gone; taking it over")
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"{self.owner}\n".encode(), 0)
        self._remove_leftovers()
        self.staging.mkdir()
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        if self.owns():
            self.path.unlink()  # while still locked: a run waiting on this file will see it is gone
        os.close(self._fd)

    def _lock(self) -> int:
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.read(fd, 4096).decode(errors="replace").strip() or "starting"
                os.close(fd)
                raise OutputBusy(
                    f"{self.prefix} is being written by another run ({owner}); wait for it to end "
                    "or choose another --output-prefix"
                ) from None
            except OSError as error:
                os.close(fd)
                raise OutputBusy(
                    f"cannot lock {self.path} ({error.strerror}): the output filesystem must support flock "
                    "(Lustre: mount with -o flock); write the output elsewhere"
                ) from None
            if self._same_file(fd):
                return fd
            os.close(fd)  # its owner removed it as we opened it: lock the new one

    def _same_file(self, fd: int) -> bool:
        try:
            named = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)

    def owns(self) -> bool:
        return self._fd is not None and self._same_file(self._fd)

    def check_owner(self) -> None:
        if not self.owns():
            raise OutputBusy(
                f"{self.path} was removed or replaced during the run: another run may be writing "
                f"{self.prefix}; nothing was published"
            )

    def _remove_leftovers(self) -> None:
        """The temporary folders of runs that died: only the lock holder writes to this prefix."""
        for leftover in glob.glob(f"{glob.escape(self.prefix)}.partial-*"):
            self.log(f"removing {leftover}, left by a run that was killed")
            shutil.rmtree(leftover, ignore_errors=True)
