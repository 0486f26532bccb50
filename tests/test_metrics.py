import json
import math
import sys

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from megatron_sc2.training.metrics import MetricsLogger, format_line, peak_memory_gb, throughput


def train_record(iteration: int, loss: float) -> dict:
    return {
        "iteration": iteration, "train_iters": 2000, "consumed_samples": iteration * 512,
        "consumed_tokens": iteration * 512 * 4096, "stage": "base-4k", "seq_length": 4096,
        "loss": loss, "grad_norm": 0.41, "lr": 2.9e-4, "iteration_time_s": 1.234,
        "tokens_per_sec": 3300.0, "tokens_per_sec_per_device": 1650.0,
        "tflops_per_device": 145.23, "mfu": 0.4691, "memory_gb": 61.24,
    }


def test_stdout_line(capsys):
    with MetricsLogger(None, None, None, None, is_logging_rank=True) as logger:
        logger.log(train_record(120, 2.31414))
        logger.log({"iteration": 1000, "consumed_tokens": 2.1e9, "stage": "base-4k", "seq_length": 4096,
                    "valid_loss": 2.2, "valid_ppl": math.exp(2.2)})
    train_line, valid_line = capsys.readouterr().out.splitlines()
    assert train_line == (
        "iter     120/2000 | stage base-4k seq 4096 | loss 2.3141 | grad 0.41 | lr 2.9e-04 | 1.23 s/it"
        " | 3.3k tok/s (1.6k/dev) | 145.2 TFLOP/s/dev MFU 46.9% | mem 61.2 GiB | tokens 251.7M"
    )
    assert valid_line == "iter    1000 | stage base-4k seq 4096 | valid loss 2.2000 | valid ppl 9.025 | tokens 2.1B"


def test_missing_fields_are_left_out_of_the_line():
    line = format_line({"iteration": 3, "loss": 5.0, "mfu": None, "tflops_per_device": 0.02, "grad_norm": None})
    assert line == "iter       3 | loss 5.0000 | 20.0 GFLOP/s/dev"  # a CPU run's rate stays readable


def test_jsonl_round_trip_appends_across_resume(tmp_path):
    path = tmp_path / "metrics.jsonl"
    first = [train_record(10, 3.5), train_record(20, 3.25)]
    with MetricsLogger(str(path), None, None, None, is_logging_rank=True) as logger:
        for record in first:
            logger.log(record)
        assert len(path.read_text().splitlines()) == 2  # flushed line by line, before close
    with MetricsLogger(str(path), None, None, None, is_logging_rank=True) as logger:
        logger.log({"iteration": 30, "loss": float("nan"), "grad_norm": np.float32(0.5),
                    "lr": torch.tensor(1e-4, dtype=torch.float64), "stage": "base-4k"})
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[:2] == first
    assert lines[2] == {"iteration": 30, "loss": None, "grad_norm": 0.5, "lr": 1e-4, "stage": "base-4k"}


def test_tensorboard_scalars(tmp_path):
    with MetricsLogger(None, str(tmp_path / "tb"), None, None, is_logging_rank=True) as logger:
        logger.log(train_record(10, 3.5))
        logger.log(train_record(20, 3.25))
        logger.log({"iteration": 20, "consumed_tokens": 20 * 512 * 4096, "valid_loss": 3.0, "valid_ppl": 20.1})
    events = EventAccumulator(str(tmp_path / "tb"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/mfu", "train/loss_vs_tokens", "valid/loss", "valid/ppl",
            "valid/loss_vs_tokens"} <= tags
    assert "train/stage" not in tags and "train/iteration" not in tags
    assert [(e.step, e.value) for e in events.Scalars("train/loss")] == [(10, 3.5), (20, 3.25)]
    assert [(e.step, e.value) for e in events.Scalars("train/loss_vs_tokens")] == [(10 * 512 * 4096, 3.5),
                                                                                  (20 * 512 * 4096, 3.25)]
    assert [(e.step, e.value) for e in events.Scalars("valid/loss")] == [(20, 3.0)]


def test_only_the_logging_rank_writes(tmp_path, capsys):
    path, tb = tmp_path / "metrics.jsonl", tmp_path / "tb"
    with MetricsLogger(str(path), str(tb), "project", "run", is_logging_rank=False) as logger:
        logger.log(train_record(10, 3.5))
    assert not path.exists() and not tb.exists()
    assert capsys.readouterr().out == ""


def test_wandb_requested_but_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # makes `import wandb` fail as if not installed
    with pytest.raises(RuntimeError, match="pip install wandb"):
        MetricsLogger(None, None, "sc2-15b", "run-1", is_logging_rank=True)


def test_throughput():
    # 8192 tokens and 2e15 FLOPs in 2 s over 4 devices on a 500 TFLOP/s part.
    assert throughput(tokens=8192, flops=2e15, seconds=2.0, num_devices=4, peak_tflops=500.0) == {
        "tokens_per_sec": 4096.0, "tokens_per_sec_per_device": 1024.0, "tflops_per_device": 250.0, "mfu": 0.5,
    }
    assert throughput(tokens=8192, flops=2e15, seconds=2.0, num_devices=4, peak_tflops=None)["mfu"] is None


def test_peak_memory_is_at_least_a_tensor_we_hold():
    held = torch.ones(64 * 2**20, dtype=torch.uint8)  # 64 MiB, touched
    assert peak_memory_gb() >= held.numel() / 2**30
