"""Checkpoints move forward across megatron-core releases: one saved under 0.16.1 resumes bitwise
under the installed newer release; one saved by 0.19+ is refused by 0.16.1 in one line.

Needs a second environment with megatron-core 0.16.1: CI's newest-megatron-core lane points
SC2_MCORE_0161_PYTHON at the main lane's `.venv/bin/python`.
"""

import os
import subprocess

import pytest
from pretrain_runs import SCHEDULE, base_args, losses, pretrain

from megatron_sc2 import mcore_compat
from megatron_sc2.checkpoint import latest_iteration

OLDER_PYTHON = os.environ.get("SC2_MCORE_0161_PYTHON")
STEPS = ["--seq-length", "64", "--global-batch-size", "4", "--train-iters", "6", *SCHEDULE,
         "--use-distributed-optimizer"]

pytestmark = pytest.mark.skipif(
    not OLDER_PYTHON or mcore_compat.release() < mcore_compat.release("0.19"),
    reason="needs megatron-core 0.19+ installed and SC2_MCORE_0161_PYTHON naming a Python with 0.16.1")


def older_release() -> str:
    return subprocess.run([OLDER_PYTHON, "-c", "import megatron.core; print(megatron.core.__version__)"],
                          capture_output=True, text=True, check=True).stdout.strip()


def test_a_0161_checkpoint_resumes_bitwise_and_a_new_one_is_refused_by_0161(training_data, tmp_path):
    assert older_release() == "0.16.1"
    old, new = tmp_path / "old", tmp_path / "new"
    pretrain(2, base_args(training_data, old, *STEPS, "--save", old / "ckpt", "--save-interval", "3"),
             python=OLDER_PYTHON)
    expected = losses(old / "metrics.jsonl")
    assert sorted(expected) == list(range(1, 7))
    assert (old / "ckpt" / "iter_0000003" / "common.pt").is_file(), "0.16.1 writes common.pt"

    (old / "ckpt" / "latest_checkpointed_iteration.txt").write_text("3\n")
    pretrain(2, base_args(training_data, new, *STEPS, "--load", old / "ckpt", "--save", new / "ckpt"))
    assert losses(new / "metrics.jsonl") == {i: expected[i] for i in (4, 5, 6)}  # bitwise
    assert latest_iteration(new / "ckpt") == 6
    assert not (new / "ckpt" / "iter_0000006" / "common.pt").exists(), "0.19 keeps it in the torch_dist files"

    refused = pretrain(2, base_args(training_data, tmp_path / "back", *STEPS, "--train-iters", "7",
                                    "--load", new / "ckpt"), python=OLDER_PYTHON, check=False)
    assert refused.returncode != 0
    assert "error: checkpoint " in refused.stderr
    assert ("iter_0000006 was written by megatron-core 0.19 or newer, which megatron-core 0.16.1 cannot read: "
            "load it with megatron-core>=0.19") in refused.stderr
