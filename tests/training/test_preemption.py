"""Preemption without loss: SIGTERM arriving during a checkpoint save, then again, as SLURM sends
it to every process of a job (the workers and megatron-core's background writers alike)."""

import signal
import time

import psutil
import pytest
from pretrain_runs import SCHEDULE, base_args, losses, pretrain, start_pretrain

from megatron_sc2.checkpoint import (
    PARTIAL_SUFFIX,
    iteration_dir,
    iterations,
    latest_iteration,
    partial_dir,
    resolve,
    verify_checkpoint,
)

TRAIN_ITERS = 12
STEPS = ["--seq-length", "64", "--global-batch-size", "4", "--train-iters", str(TRAIN_ITERS), *SCHEDULE]


def save_in_progress(ckpt) -> bool:
    """A save from iteration 2 on is being written: its `.iter_N.partial/` folder exists."""
    return any(partial_dir(ckpt, iteration).is_dir() for iteration in range(2, TRAIN_ITERS + 1))


@pytest.fixture(scope="module")
def expected(training_data, tmp_path_factory) -> dict[int, float]:
    """The uninterrupted run's losses, for both save modes."""
    reference = tmp_path_factory.mktemp("reference")
    pretrain(2, base_args(training_data, reference, *STEPS))
    return losses(reference / "metrics.jsonl")


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("mode", [[], ["--async-save"]], ids=["sync", "async"])
def test_sigterm_twice_during_a_save_leaves_only_complete_checkpoints(mode, training_data, expected, tmp_path):

    run, ckpt = tmp_path / "run", tmp_path / "run" / "ckpt"
    args = base_args(training_data, run, *STEPS, *mode, "--save", ckpt, "--save-interval", "1")
    job = start_pretrain(2, args, tmp_path / "job.log")
    deadline = time.monotonic() + 600
    while not save_in_progress(ckpt):
        assert job.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.005)
    for _ in range(2):
        for process in psutil.Process(job.pid).children(recursive=True):  # not torchrun: SLURM's launcher keeps it deaf
            try:
                process.send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                pass
        time.sleep(0.05)
    assert job.wait(timeout=300) == 0, (tmp_path / "job.log").read_text()[-3000:]
    log = (tmp_path / "job.log").read_text()
    stopped = latest_iteration(ckpt)
    assert f"stopping at iteration {stopped}: received SIGTERM; saved" in log
    assert stopped < TRAIN_ITERS
    for iteration in iterations(ckpt):
        verify_checkpoint(iteration_dir(ckpt, iteration))  # no folder is left half-written
    assert not list(ckpt.glob(f".*{PARTIAL_SUFFIX}"))  # the interrupted save finished
    assert resolve(ckpt)[0] == iteration_dir(ckpt, stopped) == iteration_dir(ckpt, max(iterations(ckpt)))

    pretrain(2, args + ["--load", str(ckpt)])
    assert losses(run / "metrics.jsonl") == expected
