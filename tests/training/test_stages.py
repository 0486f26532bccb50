"""The two-stage context-length schedule: the boundary, and stage 2 started from a stage-1 checkpoint."""

import json
import shutil

import pytest
import yaml
from pretrain_runs import base_args, losses, pretrain, read_metrics

from megatron_sc2.checkpoint import latest_iteration, resolve, write_marker

STAGE1 = {"name": "base", "train_iters": 3, "seq_length": 64, "rotary_base": 10000.0, "global_batch_size": 4,
          "lr": 3e-3, "min_lr": 3e-4, "lr_warmup_iters": 1}
STAGE2 = {"name": "long", "train_iters": 2, "seq_length": 128, "rotary_base": 100000.0, "sliding_window": 32,
          "global_batch_size": 2, "lr": 1e-3, "min_lr": 1e-4, "lr_warmup_iters": 0}


def write_config(path, stages):
    path.write_text(yaml.safe_dump({"stages": stages}))
    return path


def test_two_stages_in_one_launch_and_stage2_from_a_stage1_checkpoint(training_data, tmp_path):
    both = tmp_path / "both"
    config = write_config(tmp_path / "two.yaml", [STAGE1, STAGE2])
    pretrain(2, base_args(training_data, both, "--config", config, "--tensor-model-parallel-size", "2",
                          "--save", both / "ckpt"))
    metrics = [m for m in read_metrics(both / "metrics.jsonl") if m.get("loss") is not None]
    assert [(m["iteration"], m["stage"], m["seq_length"]) for m in metrics] == [
        (1, "base", 64), (2, "base", 64), (3, "base", 64), (4, "long", 128), (5, "long", 128)]
    assert [m["consumed_samples"] for m in metrics] == [4, 8, 12, 14, 16]
    assert all(0 < m["lr"] <= STAGE2["lr"] for m in metrics if m["stage"] == "long"), "stage 2 uses its own LR"
    assert (both / "ckpt" / "iter_0000003").is_dir(), "the boundary saves a checkpoint"
    _, meta = resolve(both / "ckpt")
    assert meta["model"]["rotary_base"] == 100000.0 and meta["model"]["sliding_window"] == 32
    assert meta["train_state"]["consumed_samples"] == 16

    # Stage 2 alone, from the boundary checkpoint (what a stage-1 launch ends with): the same stage-2 steps.
    stage1 = tmp_path / "stage1"
    shutil.copytree(both / "ckpt", stage1)
    write_marker(stage1, 3)
    stage2_only = tmp_path / "stage2"
    pretrain(2, base_args(training_data, stage2_only, "--config", write_config(tmp_path / "s2.yaml", [STAGE2]),
                          "--tensor-model-parallel-size", "2", "--load", stage1))
    alone, together = losses(stage2_only / "metrics.jsonl"), losses(both / "metrics.jsonl")
    assert sorted(alone) == [4, 5]
    for iteration in (4, 5):
        assert alone[iteration] == pytest.approx(together[iteration], rel=1e-6)
    assert json.loads((both / "ckpt" / "iter_0000005" / "sc2_checkpoint.json").read_text())["iteration"] == 5

    # Stopped inside stage 2 and resumed: stage 2's schedule and data continue exactly.
    resumed = tmp_path / "resumed"
    args = base_args(training_data, resumed, "--config", config, "--tensor-model-parallel-size", "2",
                     "--save", resumed / "ckpt")
    pretrain(2, args + ["--exit-interval", "4"])
    assert latest_iteration(resumed / "ckpt") == 4
    pretrain(2, args + ["--load", str(resumed / "ckpt")])
    expected = {m["iteration"]: (m["loss"], m["lr"]) for m in metrics}
    got = {m["iteration"]: (m["loss"], m["lr"]) for m in read_metrics(resumed / "metrics.jsonl")
           if m.get("loss") is not None}
    assert got == expected
