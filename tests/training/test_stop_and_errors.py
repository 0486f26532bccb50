"""Preemption saves a checkpoint; broken checkpoints and bad configurations fail clearly."""

import os
import signal
import time

import psutil
import pytest
from pretrain_runs import SCHEDULE, base_args, pretrain, read_metrics, start_pretrain, start_ranks

from megatron_sc2.checkpoint import CheckpointError, iteration_dir, latest_iteration, resolve, write_marker
from megatron_sc2.training.arguments import parse_args


def test_sigterm_saves_a_checkpoint_and_exits(training_data, tmp_path):
    args = base_args(training_data, tmp_path, "--seq-length", "64", "--global-batch-size", "4",
                     "--train-iters", "10000", *SCHEDULE, "--save", tmp_path / "ckpt")
    job = start_pretrain(2, args, tmp_path / "job.log")
    deadline = time.monotonic() + 300
    while len(read_metrics(tmp_path / "metrics.jsonl")) < 3:
        assert job.poll() is None, (tmp_path / "job.log").read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    os.killpg(job.pid, signal.SIGTERM)  # as SLURM does at preemption: launcher and workers alike
    job.wait(timeout=120)  # torchrun itself reports the signal with a non-zero status
    log = (tmp_path / "job.log").read_text()
    saved = latest_iteration(tmp_path / "ckpt")
    assert saved is not None and saved >= 3
    directory, meta = resolve(tmp_path / "ckpt")
    assert meta["train_state"]["iteration"] == saved
    assert f"stopping at iteration {saved}: received SIGTERM; saved" in log

    # Truncate one data file: loading names it.
    victim = max(directory.glob("*.distcp"), key=lambda p: p.stat().st_size)
    with victim.open("r+b") as f:
        f.truncate(victim.stat().st_size // 2)
    with pytest.raises(CheckpointError, match=f"corrupted: {victim.name}"):
        resolve(tmp_path / "ckpt")
    result = pretrain(1, base_args(training_data, tmp_path / "again", "--seq-length", "64", "--global-batch-size",
                                   "4", "--train-iters", "2", "--lr-warmup-iters", "0", "--load", tmp_path / "ckpt"),
                      check=False)
    assert result.returncode != 0 and f"is corrupted: {victim.name}" in result.stdout + result.stderr


def test_missing_sc2_metadata_is_a_partial_checkpoint(tmp_path):
    iteration_dir(tmp_path, 2).mkdir()
    write_marker(tmp_path, 2)
    with pytest.raises(CheckpointError, match="incomplete: sc2_checkpoint.json is missing"):
        resolve(tmp_path)
    with pytest.raises(CheckpointError, match="no such directory"):
        resolve(tmp_path / "nowhere")


def test_configuration_errors_are_reported_together_before_any_work(training_data, tmp_path):
    args = ["--model", "sc2-tiny", "--data-path", str(training_data["prefix"]),
            "--tokenizer-model", str(training_data["tokenizer"]), "--seq-length", "1024",
            "--global-batch-size", "6", "--micro-batch-size", "2", "--train-iters", "5",
            "--tensor-model-parallel-size", "4", "--load", str(tmp_path / "missing")]
    with pytest.raises(SystemExit) as error:
        parse_args(args, world_size=4)
    message = str(error.value)
    assert "must divide the 2 KV groups" in message
    assert "--seq-length 1024 exceeds the model's max_position_embeddings 512" in message
    assert "--load" in message and "no such checkpoint directory" in message
    with pytest.raises(SystemExit, match="global batch 6 is not a multiple of micro batch 2 x data parallel 4"):
        parse_args(args[:-4], world_size=4)


def test_config_file_with_flags_overriding_it(training_data, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text(
        "model: sc2-tiny\nmicro_batch_size: 2\nlr: 1.0e-3\nlr_warmup_iters: 1\n"
        f"data_path: [{training_data['prefix']}]\ntokenizer_model: {training_data['tokenizer']}\n"
        "stages:\n"
        "  - {name: a, train_tokens: 1000, seq_length: 64, global_batch_size: 4}\n"
        "  - {name: b, train_iters: 3, seq_length: 128, global_batch_size: 2, sliding_window: 64, lr: 1.0e-4}\n"
    )
    run = parse_args(["--config", str(config), "--micro-batch-size", "1", "--save", str(tmp_path)], world_size=2)
    assert run.batch.micro_batch_size == 1
    a, b = run.stages
    assert (a.train_iters, a.lr, a.rotary_base) == (4, 1e-3, 10000.0)  # ceil(1000 / (4 * 64)); file lr; model base
    assert (b.train_iters, b.lr, b.sliding_window) == (3, 1e-4, 64)
    config.write_text(config.read_text() + "bogus_key: 1\n")
    with pytest.raises(SystemExit, match="unknown keys \\['bogus_key'\\]"):
        parse_args(["--config", str(config)], world_size=1)


def test_a_nan_loss_stops_the_run_naming_the_iteration_or_is_skipped(training_data, tmp_path):
    # An absurd learning rate blows the weights up after the first update.
    args = base_args(training_data, tmp_path, "--seq-length", "64", "--global-batch-size", "4", "--train-iters",
                     "4", "--lr", "1e30", "--lr-warmup-iters", "0", "--clip-grad", "0")
    result = pretrain(1, args, check=False)
    assert result.returncode != 0
    assert "iteration 2 (stage main): the loss is NaN or Inf" in result.stdout + result.stderr

    pretrain(1, args + ["--skip-nan-steps", "--metrics-file", str(tmp_path / "skipping.jsonl")])
    last = [m for m in read_metrics(tmp_path / "skipping.jsonl") if "skipped_steps" in m][-1]
    assert last["iteration"] == 4 and last["skipped_steps"] == 3


def test_a_killed_rank_leaves_no_checkpoint_writer_process_behind(training_data, tmp_path):
    """SIGKILL to the rank alone (the OOM killer's way): the results queue's server goes with it."""
    args = base_args(training_data, tmp_path, "--seq-length", "64", "--global-batch-size", "4",
                     "--train-iters", "10000", *SCHEDULE, "--save", tmp_path / "ckpt")
    job = start_ranks(1, args, tmp_path / "logs")
    try:
        job.run_until(lambda: read_metrics(tmp_path / "metrics.jsonl"))
        (rank,) = job.ranks
        helpers = psutil.Process(rank.pid).children(recursive=True)
        assert helpers, "the rank started its checkpoint writer's results queue"
        os.kill(rank.pid, signal.SIGKILL)
        _, alive = psutil.wait_procs(helpers, timeout=10)
        assert not alive, f"left behind: {[p.cmdline() for p in alive]}"
    finally:
        job.kill()
