"""One training job writes a `--save` folder at a time: global rank 0 owns SAVE/.save.lock (see
runtime/exclusive_owner) for the whole run, and a second live job is refused with one line naming it.

A requeued SLURM job (same job id) may find its previous run's lock still held, by a node that died
and whose lock the server has not expired yet: it waits for it, up to REQUEUE_WAIT_S. Where the
filesystem has no locks, the recorded owner is the lock: it counts as gone when it is a dead pid on
this host or an earlier run of this SLURM job (requeue).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch

from megatron_sc2.runtime.exclusive_owner import OwnerFile, Taken
from megatron_sc2.training.checkpointing import CheckpointError, remove_partial_saves

LOCK_FILE = ".save.lock"
REQUEUE_WAIT_S = 300.0

log = logging.getLogger(__name__)


def acquire(root: str | Path) -> OwnerFile:
    """Own the folder, or raise CheckpointError naming the job that does."""
    lock = OwnerFile(Path(root) / LOCK_FILE, log.warning)
    deadline, waiting, me = time.monotonic() + REQUEUE_WAIT_S, False, lock.me
    while True:
        try:
            lock.acquire()
            return lock
        except Taken as taken:
            owner = taken.owner
            if taken.no_locks and (owner is None or owner.is_gone(me)):
                lock.acquire(locked=False)
                return lock
            if taken.no_locks:
                raise CheckpointError(f"--save {root} is in use by another training job ({owner}); this filesystem "
                                      f"has no file locks: if that job is gone, delete {lock.path}") from None
            if owner is None or not owner.is_earlier_run_of(me) or time.monotonic() > deadline:
                raise CheckpointError(f"--save {root} is in use by another training job ({taken}): stop that job "
                                      f"or give this one another --save folder") from None
        if not waiting:
            log.warning("waiting for the previous run of SLURM job %s to release %s", me.slurm_job_id, lock.path)
        waiting = True
        time.sleep(5)


def hold(root: str | Path) -> OwnerFile | None:
    """Global rank 0 takes the lock of `root` and clears what interrupted saves left there;
    every rank stops with the same message if it cannot. Rank 0 gets the lock to release."""
    lock, problem = None, None
    if torch.distributed.get_rank() == 0:
        try:
            lock = acquire(root)
            remove_partial_saves(root)
        except CheckpointError as e:
            problem = str(e)
    shared = [problem]
    torch.distributed.broadcast_object_list(shared, src=0)
    if shared[0]:
        raise CheckpointError(shared[0])
    return lock
