"""One way to publish an output: one exclusive owner, a staging folder, then a rename into place.

Ownership is a lock file that names its owner (host, pid, SLURM job id). The owner holds an open file
description lock (`fcntl` F_OFD_SETLK) on it: to the filesystem a POSIX lock, which NFS, GPFS and Lustre
mounted with `-o flock` honour across nodes; to the process like `flock`, it belongs to the open file, so
closing another descriptor of the file does not drop it, and a second owner in the same process is
refused. The kernel, or the file server, drops it when its owner dies, however it dies: a lock file whose
lock is free names a dead owner and is taken over. The owner removes the file while still holding the
lock, so the file exists only while owned or stale.

While it owns the output, a run writes into staging folders; any staging folder it finds on taking
ownership belongs to a dead run and is removed. It publishes by renaming what it staged into place, after
checking that the lock file is still the one it holds (it may have been deleted by hand and taken by
another run). A filesystem without locks gets the policy its caller chooses (`WithoutLocks`).
"""

from __future__ import annotations

import enum
import errno
import fcntl
import json
import os
import shutil
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

_HELD = (errno.EACCES, errno.EAGAIN)
_NO_LOCKS = (errno.ENOLCK, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL)
_WRITE_LOCK = struct.pack("hhqqi", fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)  # struct flock: the whole file
_REQUEUE_POLL_S = 5.0


class WithoutLocks(enum.Enum):
    """What an output does on a filesystem without file locks (NFS mounted nolock, Lustre without flock)."""

    REFUSE = "refuse"  # stop, saying the filesystem must support locks
    RECORDED_OWNER = "recorded owner"  # the file's owner is the lock: gone when a dead pid here or an earlier run of this SLURM job


class OutputBusy(RuntimeError):
    """The output is owned by another run, cannot be locked, or this run lost its ownership."""


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
    """Another process owns the file (`owner`), or the filesystem has no locks (`no_locks` says why) and
    `owner` is the one the file names."""

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
        self.fd = None


class Output:
    """Exclusive ownership of one output, for as long as the `with` block (or `acquire` to `release`).

    `name` is how errors call the output (a path, or the flag and path), `in_use` and `advice` finish the
    line that names the current owner. `leftovers` is a glob, beside the lock file, of the staging folders
    runs of this output write; `staging`, if given, is this run's, made on taking ownership. A requeued
    SLURM job (same job id) may find its previous run's lock still held, by a node that died and whose lock
    the server has not expired yet: it waits for it up to `requeue_wait_s`.
    """

    def __init__(self, name: str, lock: Path, *, without_locks: WithoutLocks, leftovers: str,
                 staging: Path | None = None, in_use: str = "is being written by another run",
                 advice: str = "wait for it to end", requeue_wait_s: float = 0.0, log: Callable[[str], None]):
        self.name, self.without_locks, self.leftovers, self.staging = name, without_locks, leftovers, staging
        self.in_use, self.advice, self.requeue_wait_s, self.log = in_use, advice, requeue_wait_s, log
        self.file = OwnerFile(Path(lock), log)

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def acquire(self) -> None:
        self._own()
        for leftover in sorted(self.file.path.parent.glob(self.leftovers)):
            self.log(f"removing {leftover}, left by a run that was killed")
            shutil.rmtree(leftover, ignore_errors=True)
        if self.staging is not None:
            self.staging.mkdir()

    def release(self) -> None:
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
        self.file.release()

    def owns(self) -> bool:
        return self.file.owns()

    def check_owner(self) -> None:
        if not self.owns():
            raise OutputBusy(f"{self.file.path} was removed or replaced during the run: another run may be "
                             f"writing {self.name}; nothing was published")

    def publish(self, staged: Path, final: Path) -> None:
        """Rename `staged` to `final` if this run still owns the output."""
        self.check_owner()
        rename_into_place(staged, final)

    def _own(self) -> None:
        me, deadline, waiting = self.file.me, time.monotonic() + self.requeue_wait_s, False
        while True:
            try:
                return self.file.acquire()
            except Taken as taken:
                if taken.no_locks:
                    return self._own_without_locks(taken)
                if taken.owner is None or not taken.owner.is_earlier_run_of(me) or time.monotonic() >= deadline:
                    raise OutputBusy(f"{self.name} {self.in_use} ({taken}); {self.advice}") from None
            if not waiting:
                self.log(f"waiting for the previous run of SLURM job {me.slurm_job_id} to release {self.file.path}")
            waiting = True
            time.sleep(_REQUEUE_POLL_S)

    def _own_without_locks(self, taken: Taken) -> None:
        path, owner = self.file.path, taken.owner
        if self.without_locks is WithoutLocks.REFUSE:
            raise OutputBusy(f"cannot lock {path} ({taken.no_locks}): the output filesystem must support file "
                             "locks (Lustre: mount with -o flock); write the output elsewhere")
        if owner is not None and not owner.is_gone(self.file.me):
            raise OutputBusy(f"{self.name} {self.in_use} ({owner}); this filesystem has no file locks: if that "
                             f"job is gone, delete {path}")
        self.file.acquire(locked=False)


def fresh_folder(path: Path) -> Path:
    """An empty staging folder at `path` (what an interrupted run of the same owner left there goes)."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def rename_into_place(staged: Path, final: Path) -> None:
    """`staged` becomes `final` in one rename; a folder at `final` is replaced."""
    if final.is_dir():
        shutil.rmtree(final)
    os.replace(staged, final)


def write_whole(path: Path, write: Callable[[Path], None], staging: Path | None = None) -> None:
    """`path` holds all that `write` writes or stays as it was: written under a hidden name beside it, or
    in an owner's `staging` folder (whose leftovers the next owner removes), then renamed."""
    path = Path(path)
    staged = staging / path.name if staging is not None else path.with_name(f".{path.name}.partial")
    try:
        write(staged)
        os.replace(staged, path)
    finally:
        staged.unlink(missing_ok=True)


def write_text(path: Path, text: str, staging: Path | None = None) -> None:
    write_whole(path, lambda staged: staged.write_text(text, encoding="utf-8"), staging)


# A full disk or quota, in the OS's words or torch's zip writer's (torch.save, dist_checkpointing), which
# reports a refused write as "unexpected pos 704 vs 598".
NO_SPACE = ("No space left on device", "Disk quota exceeded", "unexpected pos", "PytorchStreamWriter failed")


def no_space_left(error: BaseException) -> bool:
    return any(text in str(error) for text in NO_SPACE)


def out_of_space(path: Path) -> bool:
    """Whether the file system holding `path` has (next to) nothing left: what a failed write says when the
    writer's error names no cause (megatron-core 0.19's save workers report only "Worker failure")."""
    existing = next(p for p in (Path(path), *Path(path).absolute().parents) if p.exists())
    return shutil.disk_usage(existing).free < 1 << 20


def write_failure(error: BaseException, output: Path) -> str | None:
    """One line for an `output` the file system would not take (full disk, read-only, a file where a
    folder goes), from `error` or what caused it; None when the error is of another kind."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, OSError) and error.errno is not None:
            where = f" ({error.filename})" if error.filename and str(error.filename) != str(output) else ""
            return f"{output}: cannot write: {error.strerror}{where}"
        if no_space_left(error):
            return f"{output}: cannot write: the file system refused a write (a full disk or a quota)"
        error = error.__cause__ or error.__context__
    return None


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
