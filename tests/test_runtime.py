import re

import pytest

from megatron_sc2.runtime import cpu_backend
from megatron_sc2.runtime.launch_env import detect_launch_env, first_slurm_host


def test_torchrun_environment():
    env = {"RANK": "3", "WORLD_SIZE": "8", "LOCAL_RANK": "1", "MASTER_ADDR": "node7", "MASTER_PORT": "1234"}
    launch = detect_launch_env(env)
    assert (launch.rank, launch.world_size, launch.local_rank, launch.launcher) == (3, 8, 1, "torchrun")
    assert (launch.master_addr, launch.master_port) == ("node7", 1234)


def test_slurm_environment():
    env = {"SLURM_PROCID": "5", "SLURM_NTASKS": "16", "SLURM_LOCALID": "1",
           "SLURM_JOB_NODELIST": "gpu[012-015,020],cpu1"}
    launch = detect_launch_env(env)
    assert (launch.rank, launch.world_size, launch.local_rank, launch.launcher) == (5, 16, 1, "slurm")
    assert launch.master_addr == "gpu012"


@pytest.mark.parametrize("nodelist, first", [("n1", "n1"), ("a[3-4]", "a3"), ("x[07,09]", "x07")])
def test_first_slurm_host(nodelist, first):
    assert first_slurm_host(nodelist) == first


def test_single_process_default():
    launch = detect_launch_env({})
    assert (launch.rank, launch.world_size, launch.launcher) == (0, 1, "single")


def test_cpu_backend_maps_cuda_requests_to_the_cpu(single_process_group):
    import torch

    assert cpu_backend.active()
    assert torch.zeros(2, device="cuda").device.type == "cpu"
    assert torch.ones(1).cuda().device.type == "cpu"
    assert torch.ones(1).type() == "torch.cuda.FloatTensor"
    stream = torch.cuda.current_stream()  # megatron-core 0.19's grad sync waits on it
    stream.wait_stream(torch.cuda.current_stream())



ACTIVATE_TWICE = """
import os

import torch
from megatron.core import tensor_parallel
from megatron.core.optimizer.distrib_optimizer import DistributedOptimizer
from megatron.core.tensor_parallel.random import CheckpointFunction
from megatron_sc2 import mcore_compat, runtime
from megatron_sc2.config import ParallelConfig
from megatron_sc2.runtime import cpu_backend
from megatron_sc2.support import free_port

def originals():
    names = {str(n): vars(n.owner_object()).get(n.name) for n in mcore_compat.PRIVATE_NAMES if not n.instance}
    return {**names, "current_device": torch.cuda.current_device, "current_stream": torch.cuda.current_stream,
            "synchronize": torch.cuda.synchronize, "get_rng_state": torch.cuda.get_rng_state,
            "random.get_rng_state": torch.cuda.random.get_rng_state, "sharded_state_dict":
            vars(DistributedOptimizer)["sharded_state_dict"], "backward": vars(CheckpointFunction)["backward"]}

before, draws = originals(), []
for cycle in range(2):
    os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    runtime.initialize(ParallelConfig(), seed=1234)
    assert cpu_backend.active() and torch.zeros(1, device="cuda").device.type == "cpu"
    assert len(torch.overrides._get_current_function_mode_stack()) == 1  # the backend's mode
    with tensor_parallel.get_cuda_rng_tracker().fork():
        draws.append(torch.rand(3).tolist())
    runtime.destroy()
    assert not cpu_backend.active()
    assert torch.overrides._get_current_function_mode_stack() == []
    after = originals()
    assert after == before, [name for name in before if after[name] is not before[name]]
assert draws[0] == draws[1], draws  # the second world seeds and forks as the first
print("two cycles, originals restored")
"""


def test_runtime_destroy_puts_back_what_the_cpu_backend_replaced_and_it_activates_again():
    import subprocess
    import sys

    from multirank import REPO

    result = subprocess.run([sys.executable, "-c", ACTIVATE_TWICE], capture_output=True, text=True,
                            timeout=300, cwd=REPO, check=False,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "two cycles, originals restored" in result.stdout


STUCK_STEP = """
import os, time, torch
from megatron_sc2.runtime.watchdog import ProgressWatchdog
torch.distributed.init_process_group("gloo", rank=0, world_size=1, init_method="tcp://127.0.0.1:{port}")
watchdog = ProgressWatchdog(timeout_minutes=0.02)  # 1.2 s: fractions of a minute are allowed
watchdog.start_step(7, " (stage base)")
time.sleep(60)  # a step that never ends: the watchdog must end the process
"""


def test_watchdog_ends_a_stuck_step_naming_it():
    import subprocess
    import sys

    from multirank import REPO

    from megatron_sc2.runtime.watchdog import EXIT_CODE
    from megatron_sc2.support import free_port

    result = subprocess.run([sys.executable, "-c", STUCK_STEP.format(port=free_port())], capture_output=True,
                            text=True, timeout=120, cwd=REPO, env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
                            check=False)
    assert result.returncode == EXIT_CODE, result.stderr[-2000:]
    assert "error: iteration 7 (stage base) on rank 0" in result.stderr
    assert re.search(r"made no progress in \d+ s \(--distributed-timeout-minutes 0.02\)", result.stderr)
    assert "every rank is alive and in this step" in result.stderr


def test_distributed_timeout_must_be_positive(tmp_path):
    from megatron_sc2.training.arguments import parse_args

    (tmp_path / "tokenizer.json").write_text("{}")
    base = ["--model", "sc2-tiny", "--data-path", "d", "--tokenizer-model", str(tmp_path / "tokenizer.json"),
            "--seq-length", "64", "--global-batch-size", "2", "--train-iters", "4", "--lr-warmup-iters", "1"]
    run = parse_args(base + ["--distributed-timeout-minutes", "0.5"], world_size=1)
    assert run.parallel_options.distributed_timeout_minutes == 0.5
    with pytest.raises(SystemExit, match="--distributed-timeout-minutes must be > 0"):
        parse_args(base + ["--distributed-timeout-minutes", "0"], world_size=1)
