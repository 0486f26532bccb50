"""One training job writes a `--save` folder at a time.

Global rank 0 holds an exclusive POSIX lock (fcntl) on SAVE/.save.lock for the whole run; the
file names the owner: host, pid, SLURM job id, start time. The kernel, or the shared
filesystem's lock manager (NFS, Lustre mounted with `flock`, GPFS), drops the lock when its
owner dies, so a killed or crashed job never blocks the next one, and a second live job is
refused with one line naming the owner. A requeued SLURM job (same job id) may find its
previous run's lock still held, by a node that died and whose lock the server has not expired
yet: it waits for it, up to REQUEUE_WAIT_S.

Where the filesystem has no locks, the recorded owner is the lock: it counts as gone when it
is a dead pid on this host or an earlier run of this SLURM job (requeue).
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from megatron_sc2.training.checkpointing import CheckpointError, remove_partial_saves

LOCK_FILE = ".save.lock"
REQUEUE_WAIT_S = 300.0
_HELD = (errno.EACCES, errno.EAGAIN)
_NO_LOCKS = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    slurm_job_id: str | None
    since: str

    @classmethod
    def this_process(cls) -> Owner:
        return cls(socket.gethostname(), os.getpid(), os.environ.get("SLURM_JOB_ID"),
                   time.strftime("%Y-%m-%d %H:%M:%S"))

    def __str__(self) -> str:
        job = f", SLURM job {self.slurm_job_id}" if self.slurm_job_id else ""
        return f"host {self.host}, pid {self.pid}{job}, since {self.since}"

    def is_earlier_run_of(self, me: Owner) -> bool:
        return self.slurm_job_id is not None and self.slurm_job_id == me.slurm_job_id

    def is_gone(self, me: Owner) -> bool:
        """Judged without a lock manager: a dead pid here, or an earlier run of this job."""
        if self.is_earlier_run_of(me):
            return True
        return self.host == me.host and not _alive(self.pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # alive, another user's
    return True


class SaveLock:
    """A POSIX lock: the owning process must not open and close the lock file elsewhere (closing
    any of its descriptors drops the lock)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.path = self.root / LOCK_FILE
        self.fd: int | None = None

    def acquire(self) -> None:
        """Own the folder, or raise CheckpointError naming the job that does."""
        me = Owner.this_process()
        self.root.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._lock(fd, me)
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
        os.fsync(fd)
        self.fd = fd

    def _lock(self, fd: int, me: Owner) -> None:
        deadline, waiting = time.monotonic() + REQUEUE_WAIT_S, False
        while True:
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return  # whoever the file names, the lock manager says it is gone
            except OSError as e:
                if e.errno in _NO_LOCKS:
                    owner = _read_owner(fd)
                    if owner is None or owner.is_gone(me):
                        return
                    raise CheckpointError(f"--save {self.root} is in use by another training job ({owner}); this "
                                          f"filesystem has no file locks: if that job is gone, delete {self.path}")
                if e.errno not in _HELD:
                    raise
            owner = _read_owner(fd)
            if owner is not None and owner.is_earlier_run_of(me) and time.monotonic() < deadline:
                if not waiting:
                    log.warning("waiting for the previous run of SLURM job %s to release %s", me.slurm_job_id,
                                self.path)
                waiting = True
                time.sleep(5)
                continue
            raise CheckpointError(f"--save {self.root} is in use by another training job ({owner or 'unknown'}): "
                                  f"stop that job or give this one another --save folder")

    def release(self) -> None:
        if self.fd is None:
            return
        os.ftruncate(self.fd, 0)
        try:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)
        except OSError:
            pass  # a filesystem without locks: the emptied file is the release
        os.close(self.fd)
        self.fd = None


def _read_owner(fd: int) -> Owner | None:
    try:
        return Owner(**json.loads(os.pread(fd, 4096, 0)))
    except (ValueError, TypeError):
        return None  # empty (released) or not ours


def hold(root: str | Path) -> SaveLock | None:
    """Global rank 0 takes the lock of `root` and clears what interrupted saves left there;
    every rank stops with the same message if it cannot. Rank 0 gets the lock to release."""
    lock, problem = None, None
    if torch.distributed.get_rank() == 0:
        lock = SaveLock(root)
        try:
            lock.acquire()
            remove_partial_saves(root)
        except CheckpointError as e:
            lock, problem = None, str(e)
    shared = [problem]
    torch.distributed.broadcast_object_list(shared, src=0)
    if shared[0]:
        raise CheckpointError(shared[0])
    return lock
