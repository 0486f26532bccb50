"""One writer per output prefix: `{prefix}.lock` (see runtime/exclusive_owner), per-run temporary
names, and cleanup after dead runs.

Two runs writing one prefix would otherwise mix their bytes into a dataset that loads and is wrong.
The lock file is owned for the whole run. Everything a run writes goes first into its own
`{prefix}.partial-HOST-PID/` folder; while the lock is held, any other such folder belongs to a dead
run and is removed. Before publishing, the owner checks the lock file is still the one it holds (it
may have been deleted and taken by another run).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Self

from megatron_sc2.runtime.exclusive_owner import OwnerFile, Taken


class OutputBusy(RuntimeError):
    """The prefix is written by another run, or this run lost its lock."""


class OutputLock:
    def __init__(self, prefix: str, log: Callable[[str], None]):
        self.prefix, self.log = prefix, log
        self.file = OwnerFile(Path(f"{prefix}.lock"), log)
        self.staging = Path(f"{prefix}.partial-{socket.gethostname()}-{os.getpid()}")

    def __enter__(self) -> Self:
        try:
            self.file.acquire()
        except Taken as taken:
            if taken.no_locks:
                raise OutputBusy(
                    f"cannot lock {self.file.path} ({taken.no_locks}): the output filesystem must support file "
                    "locks (Lustre: mount with -o flock); write the output elsewhere"
                ) from None
            raise OutputBusy(
                f"{self.prefix} is being written by another run ({taken}); wait for it to end "
                "or choose another --output-prefix"
            ) from None
        self._remove_leftovers()
        self.staging.mkdir()
        return self

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        self.file.release()

    def owns(self) -> bool:
        return self.file.owns()

    def check_owner(self) -> None:
        if not self.owns():
            raise OutputBusy(
                f"{self.file.path} was removed or replaced during the run: another run may be writing "
                f"{self.prefix}; nothing was published"
            )

    def _remove_leftovers(self) -> None:
        """The temporary folders of runs that died: only the lock holder writes to this prefix."""
        for leftover in glob.glob(f"{glob.escape(self.prefix)}.partial-*"):
            self.log(f"removing {leftover}, left by a run that was killed")
            shutil.rmtree(leftover, ignore_errors=True)
