"""One exclusive owner of an output on a shared filesystem: a lock file that names its owner.

The owner holds an open file description lock (`fcntl` F_OFD_SETLK) on the file: to the filesystem a
POSIX lock, which NFS, GPFS and Lustre mounted with `-o flock` honour across nodes; to the process like
`flock`, it belongs to the open file, so closing another descriptor of the file does not drop it, and a
second owner in the same process is refused. The kernel, or the file server, drops it when its owner
dies, however it dies: a lock file whose lock is free names a dead owner and is taken over. The owner
removes the file while still holding the lock, so the file exists only while owned or stale.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

_HELD = (errno.EACCES, errno.EAGAIN)
_NO_LOCKS = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)
_WRITE_LOCK = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)  # struct flock: the whole file


@dataclass(frozen=True)
class Owner:
    host: str
    pid: int
    slurm_job_id: str | None
    since: str

    def __str__(self) -> str:
        job = f", SLURM job {self.slurm_job_id}" if self.slurm_job_id else ""
        return f"host {self.host}, pid {self.pid}{job}, since {self.since}"

    def is_earlier_run_of(self, me: Owner) -> bool:
        return self.slurm_job_id is not None and self.slurm_job_id == me.slurm_job_id

    def is_gone(self, me: Owner) -> bool:
        """Judged without a lock manager: a dead pid here, or an earlier run of this job."""
        return self.is_earlier_run_of(me) or (self.host == me.host and not Path(f"/proc/{self.pid}").exists())


class Taken(RuntimeError):
    """Another process owns the file (`owner`, named by the message), or the filesystem has no locks
    (`no_locks` says why) and `owner` is the one the file names."""

    def __init__(self, owner: Owner | None, no_locks: str | None = None):
        super().__init__(str(owner) if owner else "owner not recorded")
        self.owner, self.no_locks = owner, no_locks


class OwnerFile:
    def __init__(self, path: Path, log: Callable[[str], None]):
        self.path, self.log = path, log
        since = time.strftime("%Y-%m-%d %H:%M:%S")
        self.me = Owner(socket.gethostname(), os.getpid(), os.environ.get("SLURM_JOB_ID"), since)
        self.fd: int | None = None

    def acquire(self, locked: bool = True) -> None:
        """Own the file, or raise Taken. `locked=False` owns it without a lock, for a filesystem
        without locks once the caller has judged the recorded owner gone."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            if locked:
                _lock(fd)
            if _names(self.path, fd):
                break
            os.close(fd)  # its owner removed it as we opened it: lock the new one
        previous = _read_owner(fd)
        if previous is not None:
            self.log(f"{self.path}: its owner ({previous}) is gone; taking it over")
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(self.me)).encode(), 0)
        os.fsync(fd)
        self.fd = fd

    def owns(self) -> bool:
        """False once the file was removed or replaced (by hand, so that another run could start)."""
        return _names(self.path, self.fd)

    def release(self) -> None:
        if self.owns():
            self.path.unlink()  # while still locked: whoever waits on this file sees it is gone
        os.close(self.fd)


def _lock(fd: int) -> None:
    """Lock `fd`, or close it and raise."""
    try:
        fcntl.fcntl(fd, fcntl.F_OFD_SETLK, _WRITE_LOCK)
    except OSError as error:
        owner = _read_owner(fd)
        os.close(fd)
        if error.errno in _HELD + _NO_LOCKS:
            raise Taken(owner, None if error.errno in _HELD else error.strerror) from None
        raise


def _names(path: Path, fd: int) -> bool:
    try:
        named = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (named.st_dev, named.st_ino) == (held.st_dev, held.st_ino)


def _read_owner(fd: int) -> Owner | None:
    try:
        return Owner(**json.loads(os.pread(fd, 4096, 0)))
    except (ValueError, TypeError):
        return None  # being written, or not ours
