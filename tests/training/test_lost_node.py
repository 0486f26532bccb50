"""Two torchrun "nodes" on one machine (static rendezvous, --nnodes 2): one is killed or frozen;
the other ends on its own, soon, naming what happened; relaunching both resumes exactly."""

import signal
import subprocess
import sys
import time

import psutil
import pytest
from multirank import REPO, free_port
from pretrain_runs import SCHEDULE, base_args, environment, losses, pretrain, read_metrics

from megatron_sc2.checkpoint import latest_iteration, resolve
from megatron_sc2.runtime.watchdog import EXIT_CODE

STEPS = ["--tensor-model-parallel-size", "2", "--seq-length", "64", "--global-batch-size", "4",
         "--train-iters", "10", *SCHEDULE]
TIMEOUT_MINUTES = 0.5  # 30 s: the frozen case ends within it (plus a few seconds to name the silent rank)


def start_node(node: int, port: int, args: list[str], log) -> subprocess.Popen:
    command = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "2", "--node-rank", str(node), "--nproc-per-node", "1",
               "--rdzv-backend", "static", "--rdzv-endpoint", f"127.0.0.1:{port}", "-m", "megatron_sc2.pretrain", *args]
    return subprocess.Popen(command, stdout=log.open("w"), stderr=subprocess.STDOUT, env=environment(), cwd=REPO)


def signal_tree(pid: int, sig: int) -> None:
    """A node: its torchrun agent and the workers, which torchrun starts in sessions of their own."""
    agent = psutil.Process(pid)
    for process in [agent, *agent.children(recursive=True)]:
        try:
            process.send_signal(sig)
        except psutil.NoSuchProcess:
            pass


def run_two_nodes(args: list[str], tmp_path, name: str):
    port = free_port()
    return [start_node(n, port, args, tmp_path / f"{name}.node{n}.log") for n in (0, 1)]


@pytest.fixture(scope="module")
def expected(training_data, tmp_path_factory) -> dict[int, float]:
    """The uninterrupted run's losses, for both failures."""
    reference = tmp_path_factory.mktemp("reference")
    pretrain(2, base_args(training_data, reference, *STEPS))
    return losses(reference / "metrics.jsonl")


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("failure", [signal.SIGKILL, signal.SIGSTOP], ids=["killed", "frozen"])
def test_the_surviving_node_ends_and_a_relaunch_resumes_exactly(failure, training_data, expected, tmp_path):

    run = tmp_path / "run"
    args = base_args(training_data, run, *STEPS, "--save", run / "ckpt", "--save-interval", "2",
                     "--distributed-timeout-minutes", TIMEOUT_MINUTES)
    nodes = run_two_nodes(args, tmp_path, "first")
    deadline = time.monotonic() + 600
    while (latest_iteration(run / "ckpt") or 0) < 4:
        assert all(n.poll() is None for n in nodes), (tmp_path / "first.node0.log").read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.1)
    lost_at = time.monotonic()
    signal_tree(nodes[1].pid, failure)
    try:
        returncode = nodes[0].wait(timeout=60 * TIMEOUT_MINUTES + 60)
        survivor_exit_s = time.monotonic() - lost_at
    finally:
        signal_tree(nodes[1].pid, signal.SIGKILL)
        nodes[1].wait()
    log = (tmp_path / "first.node0.log").read_text()
    print(f"{failure.name}: node 0 exited {survivor_exit_s:.1f} s after node 1 was lost")
    assert returncode != 0
    if failure == signal.SIGSTOP:
        assert "made no progress in" in log or "failed in a collective" in log, log[-3000:]
        assert "silent (no heartbeat): rank 1 on" in log, log[-3000:]
        assert f"exitcode  : {EXIT_CODE}" in log
    else:
        assert "failed in a collective" in log or "exitcode" in log, log[-3000:]
    last = latest_iteration(run / "ckpt")
    resolve(run / "ckpt")  # the marker names a complete checkpoint
    assert 4 <= last < 10

    logged = len(read_metrics(run / "metrics.jsonl"))
    relaunched_at = time.monotonic()
    relaunched = run_two_nodes(args + ["--load", str(run / "ckpt")], tmp_path, "second")
    while len(read_metrics(run / "metrics.jsonl")) == logged and relaunched[0].poll() is None:
        time.sleep(0.1)
    print(f"relaunch: first new iteration logged {time.monotonic() - relaunched_at:.1f} s after the relaunch")
    for node in relaunched:
        assert node.wait(timeout=600) == 0, (tmp_path / "second.node0.log").read_text()[-3000:]
    assert losses(run / "metrics.jsonl") == expected  # every iteration, bitwise
