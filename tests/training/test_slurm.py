"""examples/slurm/pretrain_sc2.sbatch through a real SLURM (the session's one-node cluster): both
stages, the log where the header says, resume by resubmission, a clean stop on scancel
--signal=TERM (COMPLETED, exit 0), and a requeue after preemption continuing the same losses."""

import sys
import time
from pathlib import Path

import pytest
import yaml
from multirank import REPO, free_port
from pretrain_runs import losses

from megatron_sc2.checkpoint import latest_iteration, resolve

STAGES = [
    {"name": "base", "train_iters": 6, "seq_length": 64, "rotary_base": 10000.0, "global_batch_size": 4,
     "lr": 3e-3, "min_lr": 3e-4, "lr_warmup_iters": 1},
    {"name": "long", "train_iters": 4, "seq_length": 128, "rotary_base": 100000.0, "sliding_window": 32,
     "global_batch_size": 2, "lr": 1e-3, "min_lr": 1e-4, "lr_warmup_iters": 0},
]
ALL_ITERATIONS = list(range(1, 11))


def tiny_config(tmp_path: Path) -> Path:
    config = {"model": "sc2-tiny", "tensor_model_parallel_size": 2, "micro_batch_size": 2, "split": "98,2,0",
              "num_workers": 0, "log_interval": 1, "eval_interval": 1000, "eval_iters": 1, "save_interval": 2,
              "stages": STAGES}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def submit(slurm, data: dict, checkpoint_dir: Path, config: Path, *sbatch_args: str) -> str:
    env = {"DATA_PATH": str(data["prefix"]), "TOKENIZER_MODEL": str(data["tokenizer"]),
           "CHECKPOINT_DIR": str(checkpoint_dir), "DATA_CACHE_PATH": str(data["cache"]), "GPUS_PER_NODE": "2",
           "MASTER_PORT": str(free_port()), "OMP_NUM_THREADS": "1",
           "PATH": f"{Path(sys.executable).parent}:{slurm.env['PATH']}"}
    result = slurm.run("sbatch", "--parsable", "--nodes", "1", "--gpus-per-node", "0", "--job-name", "sc2-test",
                       *sbatch_args, "examples/slurm/pretrain_sc2.sbatch", "3b", "--config", str(config),
                       env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().split(";")[0]


def job_log(job_id: str) -> Path:
    return REPO / f"sc2-test-{job_id}.out"  # the header's --output=%x-%j.out, in the submit directory


@pytest.fixture
def logs():
    made = []
    yield made
    for job_id in made:
        job_log(job_id).unlink(missing_ok=True)


def finished(slurm, job_id: str, logs: list) -> dict:
    logs.append(job_id)
    info = slurm.wait(job_id)
    text = job_log(job_id).read_text() if job_log(job_id).exists() else "(no log)"
    assert info["JobState"] == "COMPLETED" and info["ExitCode"] == "0:0", f"{info}\n{text[-4000:]}"
    return info


def wait_for_checkpoint(checkpoint_dir: Path, iteration: int, slurm, job_id: str) -> None:
    deadline = time.monotonic() + 600
    while (latest_iteration(checkpoint_dir) or 0) < iteration:
        assert slurm.job(job_id)["JobState"] in ("PENDING", "RUNNING"), job_log(job_id).read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.2)


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_sbatch_trains_both_stages_and_resumes_after_scancel_and_requeue(slurm, training_data, tmp_path, logs):
    # Uninterrupted: both stages in one job, logging to the header's file.
    reference = tmp_path / "reference"
    job = submit(slurm, training_data, reference, tiny_config(tmp_path))
    finished(slurm, job, logs)
    text = job_log(job).read_text()
    assert "stage base: 6 iterations at seq 64" in text and "stage long: 4 iterations at seq 128" in text
    expected = losses(reference / "metrics.jsonl")
    assert sorted(expected) == ALL_ITERATIONS
    assert resolve(reference)[1]["train_state"]["stage_name"] == "long"

    # scancel --signal=TERM: the job saves and ends COMPLETED; resubmitting resumes from that checkpoint.
    stopped = tmp_path / "stopped"
    job = submit(slurm, training_data, stopped, tiny_config(tmp_path))
    wait_for_checkpoint(stopped, 2, slurm, job)
    slurm.run("scancel", "--signal=TERM", job, check=True)
    finished(slurm, job, logs)
    saved = latest_iteration(stopped)
    assert f"stopping at iteration {saved}: received SIGTERM; saved" in job_log(job).read_text()
    job = submit(slurm, training_data, stopped, tiny_config(tmp_path))
    finished(slurm, job, logs)
    assert f"resuming from {stopped}, iteration {saved}" in job_log(job).read_text()
    assert losses(stopped / "metrics.jsonl") == expected

    # Preempted and requeued (the header asks for --requeue): the same job continues the same losses.
    requeued = tmp_path / "requeued"
    job = submit(slurm, training_data, requeued, tiny_config(tmp_path))
    wait_for_checkpoint(requeued, 4, slurm, job)
    slurm.run("scontrol", "requeue", job, check=True)
    slurm.wait(job, until=("PENDING",))
    slurm.run("scontrol", "update", f"jobid={job}", "StartTime=now")  # skip SLURM's two-minute requeue delay
    info = finished(slurm, job, logs)
    assert int(info["Restarts"]) == 1
    assert losses(requeued / "metrics.jsonl") == expected
