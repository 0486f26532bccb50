"""examples/pretrain_mpirun.sh under a real Open MPI (mpi4py), and `srun` starting the ranks itself:
TP=2, the same losses as torchrun."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from multirank import REPO, free_port, launcher_environment
from pretrain_runs import SCHEDULE, base_args, losses, pretrain

STEPS = ["--tensor-model-parallel-size", "2", "--seq-length", "64", "--global-batch-size", "4",
         "--train-iters", "4", *SCHEDULE]


def launcher_env(data: dict, checkpoint_dir: Path) -> dict:
    return {**launcher_environment(), "DATA_PATH": str(data["prefix"]), "TOKENIZER_MODEL": str(data["tokenizer"]),
            "CHECKPOINT_DIR": str(checkpoint_dir), "DATA_CACHE_PATH": str(data["cache"]),
            "MASTER_PORT": str(free_port()), "OMP_NUM_THREADS": "1",
            "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"}  # Open MPI refuses root without


@pytest.fixture(scope="module")
def torchrun_losses(training_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("torchrun")
    pretrain(2, base_args(training_data, out, *STEPS))
    return losses(out / "metrics.jsonl")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pretrain_mpirun_gives_the_torchrun_losses(training_data, torchrun_losses, tmp_path):
    pytest.importorskip("mpi4py.MPI", reason="pip install -e '.[mpi]'")
    if not shutil.which("mpirun"):
        pytest.skip("no mpirun here: .ci/run installs Debian's openmpi-bin")
    env = {**launcher_env(training_data, tmp_path / "ckpt"), "NP": "2", "SIZE": "3b",
           "MPIRUN_ARGS": "--oversubscribe"}
    config = tmp_path / "tiny.yaml"  # replaces the SIZE recipe's config (and its stages): the flags set the run
    config.write_text("model: sc2-tiny\n")
    args = base_args(training_data, tmp_path, "--config", config, *STEPS)
    result = subprocess.run(["bash", "examples/pretrain_mpirun.sh", *args], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert losses(tmp_path / "metrics.jsonl") == torchrun_losses


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_srun_direct_launch_gives_the_torchrun_losses(slurm, training_data, torchrun_losses, tmp_path):
    env = launcher_env(training_data, tmp_path / "ckpt")
    args = base_args(training_data, tmp_path, *STEPS)
    result = slurm.run("srun", "--ntasks", "2", "--kill-on-bad-exit=1", sys.executable, "-m", "megatron_sc2.pretrain",
                       *args, env={**env, "PYTHONPATH": str(REPO)}, cwd=REPO)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert losses(tmp_path / "metrics.jsonl") == torchrun_losses
