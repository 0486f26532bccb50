"""One training job writes a --save folder at a time; a dead owner never blocks the next job."""

import errno
import json
import os
import signal
import socket
import subprocess
import sys
import threading

import pytest
from pretrain_runs import SCHEDULE, base_args, pretrain, read_metrics, start_ranks

from megatron_sc2 import publish
from megatron_sc2.checkpoint import acquire, latest_iteration
from megatron_sc2.checkpoint.layout import LOCK_FILE
from megatron_sc2.publish import OutputBusy

HOLD = "import sys, time; from megatron_sc2.checkpoint import acquire; " \
       "acquire(sys.argv[1]); print('held', flush=True); time.sleep(600)"


def holder(root, slurm_job_id=None) -> subprocess.Popen:
    """Another process that holds the lock of `root` until killed."""
    env = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}
    if slurm_job_id:
        env["SLURM_JOB_ID"] = slurm_job_id
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(root)], stdout=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().strip() == "held"
    return process


def recorded(root) -> dict:
    """The owner the lock file names ({} when free). Reading it does not drop the owner's lock."""
    path = root / LOCK_FILE
    return json.loads(path.read_text()) if path.exists() else {}


def test_a_live_owner_is_named_and_a_dead_one_is_replaced(tmp_path, monkeypatch):
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    other = holder(tmp_path)
    with pytest.raises(OutputBusy, match=f"--save {tmp_path} is in use by another training job "
                                              f"\\(host {socket.gethostname()}, pid {other.pid}, since "):
        acquire(tmp_path)
    other.kill()
    other.wait()
    lock = acquire(tmp_path)  # the owner died holding it: the lock went with it
    assert recorded(tmp_path)["pid"] == os.getpid()
    lock.release()
    assert recorded(tmp_path) == {}


def test_a_requeued_slurm_job_takes_over_from_its_previous_run(tmp_path, monkeypatch):
    previous = holder(tmp_path, slurm_job_id="4242")
    monkeypatch.setenv("SLURM_JOB_ID", "4243")
    with pytest.raises(OutputBusy, match=f"pid {previous.pid}, SLURM job 4242"):
        acquire(tmp_path)
    monkeypatch.setenv("SLURM_JOB_ID", "4242")  # the same job, requeued: waits for the old run's lock to go
    threading.Timer(1.0, previous.kill).start()
    lock = acquire(tmp_path)
    assert recorded(tmp_path)["slurm_job_id"] == "4242" and recorded(tmp_path)["pid"] == os.getpid()
    lock.release()
    previous.wait()


def test_without_file_locks_the_recorded_owner_decides(tmp_path, monkeypatch):
    def no_locks(fd, command, arg):
        raise OSError(errno.ENOLCK, "No locks available")  # an NFS mount with nolock, Lustre without flock

    monkeypatch.setattr(publish.fcntl, "fcntl", no_locks)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    here = socket.gethostname()

    def record(host, pid, job=None):
        (tmp_path / LOCK_FILE).write_text(json.dumps({"host": host, "pid": pid, "slurm_job_id": job, "since": "x"}))

    try:
        for host, pid, job in [(here, alive.pid, None), ("node-b", dead.pid, "7")]:
            record(host, pid, job)
            with pytest.raises(OutputBusy, match=f"no file locks: if that job is gone, delete .*{LOCK_FILE}"):
                acquire(tmp_path)
        for host, pid, job, our_job in [(here, dead.pid, None, None), ("node-b", alive.pid, "7", "7")]:
            record(host, pid, job)
            if our_job:
                monkeypatch.setenv("SLURM_JOB_ID", our_job)
            lock = acquire(tmp_path)
            assert recorded(tmp_path)["pid"] == os.getpid()
            lock.release()
    finally:
        alive.kill()
        alive.wait()


def test_a_second_job_on_the_same_save_folder_is_refused(training_data, tmp_path):
    """Two real jobs: the second stops naming the first; once the first is gone (SIGTERM, it
    saves), `--save D --load D` resumes as a requeued job would."""
    ckpt = tmp_path / "ckpt"
    train = ["--seq-length", "64", "--global-batch-size", "4", *SCHEDULE, "--save", ckpt]
    first = start_ranks(2, base_args(training_data, tmp_path / "first", "--train-iters", "10000", *train),
                        tmp_path / "first.logs")
    try:
        first.run_until(lambda: len(read_metrics(tmp_path / "first" / "metrics.jsonl")) >= 2)
        owner = recorded(ckpt)
        second = pretrain(1, base_args(training_data, tmp_path / "second", "--train-iters", "4", *train), check=False)
        output = second.stdout + second.stderr
        assert second.returncode != 0
        assert (f"error: --save {ckpt} is in use by another training job (host {owner['host']}, pid {owner['pid']}"
                in output), output[-3000:]
        assert not read_metrics(tmp_path / "second" / "metrics.jsonl")
    finally:
        first.send_signal(signal.SIGTERM)  # as SLURM signals a job's tasks
        first.wait(timeout=120)
        first.kill()
    saved = latest_iteration(ckpt)
    assert saved is not None and recorded(ckpt) == {}  # released at exit

    pretrain(1, base_args(training_data, tmp_path / "requeued", "--train-iters", "10000", *train, "--load", ckpt,
                          "--exit-interval", saved + 1))
    assert latest_iteration(ckpt) == saved + 1
