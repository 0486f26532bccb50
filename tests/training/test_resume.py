"""Checkpoints resume exactly, and into another TP x PP x DP layout."""

import random

import pytest
from pretrain_runs import SCHEDULE, base_args, losses, pretrain, start_ranks

from megatron_sc2.checkpoint import latest_iteration, resolve, write_marker

STEPS = ["--seq-length", "64", "--global-batch-size", "4", "--train-iters", "8", *SCHEDULE]
# Megatron-LM's default dropout: a resume must restore every random stream it draws from.
DROPOUT = ["--hidden-dropout", "0.1", "--attention-dropout", "0.1"]


@pytest.mark.parametrize("pipeline", [
    pytest.param(["--pipeline-model-parallel-size", "2"], id="pp2"),
    pytest.param(["--pipeline-model-parallel-size", "2", "--num-layers-per-virtual-pipeline-stage", "1"],
                 id="pp2-interleaved"),
])
def test_sigkill_at_a_random_iteration_then_resume_gives_identical_losses(training_data, tmp_path, pipeline):
    ref, run = tmp_path / "ref", tmp_path / "killed"
    pretrain(2, base_args(training_data, ref, *pipeline, *STEPS, *DROPOUT))
    expected = losses(ref / "metrics.jsonl")
    assert sorted(expected) == list(range(1, 9))

    kill_after = random.Random().randint(2, 6)
    args = base_args(training_data, run, *pipeline, *STEPS, *DROPOUT,
                     "--save", run / "ckpt", "--save-interval", "1")
    job = start_ranks(2, args, tmp_path / "killed")
    try:
        job.run_until(lambda: (latest_iteration(run / "ckpt") or 0) >= kill_after)
    finally:
        job.kill()
    stopped_at = latest_iteration(run / "ckpt")
    assert kill_after <= stopped_at < 8

    pretrain(2, args + ["--load", str(run / "ckpt")])
    assert losses(run / "metrics.jsonl") == expected  # bitwise, every iteration


def test_a_resume_with_dropout_at_tp2_gives_the_uninterrupted_losses_bitwise(training_data, tmp_path):
    # The uninterrupted run saves at iteration 3; resuming from that save repeats iterations 4 and 5.
    # (At TP1 x DP2 the async-save test below resumes with dropout too.)
    ckpt = tmp_path / "ckpt"
    steps = ["--tensor-model-parallel-size", "2", *STEPS, "--train-iters", "5", *DROPOUT]
    pretrain(2, base_args(training_data, tmp_path / "whole", *steps, "--save", ckpt, "--save-interval", "3"))
    expected = losses(tmp_path / "whole" / "metrics.jsonl")
    write_marker(ckpt, 3)
    pretrain(2, base_args(training_data, tmp_path / "resumed", *steps, "--load", ckpt))
    assert losses(tmp_path / "resumed" / "metrics.jsonl") == {4: expected[4], 5: expected[5]}


@pytest.mark.slow
def test_tp2xpp2_checkpoint_resumes_at_tp1_and_dp2(training_data, tmp_path):
    # Adam's update g / (sqrt(v) + eps) turns reduction-order noise in near-zero gradients into
    # O(lr) differences between layouts; a larger eps keeps the comparison well conditioned.
    common = [*STEPS, "--use-distributed-optimizer", "--adam-eps", "1e-4"]
    saved = tmp_path / "tp2pp2"
    pretrain(4, base_args(training_data, saved, "--tensor-model-parallel-size", "2",
                          "--pipeline-model-parallel-size", "2", *common, "--save", saved / "ckpt",
                          "--save-interval", "4"))
    write_marker(saved / "ckpt", 4)  # resume from the middle; TP2xPP2's own iterations 5-8 are the reference
    reference = {i: loss for i, loss in losses(saved / "metrics.jsonl").items() if i > 4}
    assert sorted(reference) == [5, 6, 7, 8]

    continued = {}
    for name, nproc, layout in [("tp1", 1, []), ("dp2", 2, [])]:
        out = tmp_path / f"from_{name}"
        pretrain(nproc, base_args(training_data, out, *layout, *common, "--load", saved / "ckpt"))
        continued[name] = losses(out / "metrics.jsonl")
    for name, got in continued.items():
        assert got.keys() == reference.keys(), name
        for iteration, loss in reference.items():
            assert got[iteration] == pytest.approx(loss, rel=1e-5), (name, iteration)


def test_async_save_writes_complete_checkpoints_that_resume_exactly(training_data, tmp_path):
    ckpt = tmp_path / "ckpt"
    pretrain(2, base_args(training_data, tmp_path / "run", *STEPS, *DROPOUT, "--save", ckpt,
                          "--save-interval", "3", "--async-save"))
    for iteration in (3, 6, 8):
        _, meta = resolve(ckpt, iteration)
        assert meta["train_state"]["iteration"] == iteration
    write_marker(ckpt, 6)
    pretrain(2, base_args(training_data, tmp_path / "resumed", *STEPS, *DROPOUT, "--load", ckpt))
    first, resumed = losses(tmp_path / "run" / "metrics.jsonl"), losses(tmp_path / "resumed" / "metrics.jsonl")
    assert resumed == {7: first[7], 8: first[8]}
