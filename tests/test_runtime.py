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
