"""Stop cleanly, with a checkpoint, on SLURM preemption (SIGTERM / SIGUSR1), Ctrl-C (SIGINT, when
there is a checkpoint to save) or a wall-time limit.

A signal may reach only some ranks, so every rank agrees once per iteration (one tiny
all-reduce) before any of them starts saving. The handler only takes note: a signal arriving
again, or during a save, never interrupts the save. SLURM signals every process of the job, so
the helper process megatron-core's checkpoint writer reports through is started deaf to them.
"""

from __future__ import annotations

import signal
import time

import torch

from megatron_sc2 import mcore_compat


class ExitSignals:
    def __init__(self, exit_duration_mins: float | None, signals=(signal.SIGTERM, signal.SIGUSR1)):
        self.received: str | None = None
        self.deadline = None if exit_duration_mins is None else time.monotonic() + 60 * exit_duration_mins
        for sig in signals:
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        self.received = signal.Signals(signum).name

    def reason(self) -> str | None:
        """The reason to stop now, agreed by all ranks, or None."""
        local = torch.tensor(
            [self.received is not None, self.deadline is not None and time.monotonic() > self.deadline],
            dtype=torch.int32, device="cuda" if torch.cuda.is_available() else "cpu",  # NCCL: CUDA tensors only
        )
        torch.distributed.all_reduce(local, op=torch.distributed.ReduceOp.MAX)
        if local[0]:
            return f"received {self.received or 'a signal on another rank'}"
        if local[1]:
            return "reached --exit-duration-in-mins"
        return None


def start_checkpoint_writer_queue(ignoring) -> None:
    """megatron-core's checkpoint writer sends its results through a queue served by a process of
    its own, started at the first save; a SIGTERM meant for the trainer would kill it mid-save
    (BrokenPipeError, a lost checkpoint). Start it now, inheriting these signals ignored."""
    previous = {sig: signal.signal(sig, signal.SIG_IGN) for sig in ignoring}
    try:
        mcore_compat.start_write_results_queue()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
