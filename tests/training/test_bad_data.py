"""A damaged dataset stops `pretrain` at start-up with one line naming the prefix."""

import os
import shutil

from pretrain_runs import SCHEDULE, base_args, pretrain, read_metrics


def test_a_truncated_bin_stops_pretrain_before_training(training_data, tmp_path):
    prefix = tmp_path / "data"
    for ext in (".bin", ".idx"):
        shutil.copy(f"{training_data['prefix']}{ext}", f"{prefix}{ext}")
    os.truncate(f"{prefix}.bin", os.path.getsize(f"{prefix}.bin") - 4096)
    data = {**training_data, "prefix": prefix}
    result = pretrain(1, base_args(data, tmp_path, "--seq-length", "64", "--global-batch-size", "4",
                                   "--train-iters", "3", *SCHEDULE), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"error: --data-path prefix {prefix}: {prefix}.bin has " in output
    assert "re-run tools/preprocess_data.py for this prefix" in output
    assert not [line for line in output.splitlines() if 'File "' in line and "megatron" in line], output[-3000:]
    assert not read_metrics(tmp_path / "metrics.jsonl")  # not one step trained
