"""Process groups, megatron-core model parallelism and per-rank seeding."""

from __future__ import annotations

import datetime
import os
import random

import numpy as np
import torch

from megatron_sc2.config import ParallelConfig
from megatron_sc2.runtime import cpu_backend
from megatron_sc2.runtime.launch_env import LaunchEnv, detect_launch_env


def device() -> torch.device:
    return torch.device("cuda", torch.cuda.current_device()) if torch.cuda.is_available() else torch.device("cpu")


def initialize(parallel: ParallelConfig, seed: int = 1234, timeout_minutes: float = 10) -> LaunchEnv:
    """Start torch.distributed (nccl with CUDA, gloo without) and megatron-core's groups, every
    one of them with `timeout_minutes` (Megatron-LM's --distributed-timeout-minutes)."""
    from megatron.core import parallel_state

    launch = detect_launch_env()
    cpu_backend.activate()
    if torch.cuda.is_available():
        torch.cuda.set_device(launch.local_rank % torch.cuda.device_count())
        # A timed-out NCCL collective aborts its communicator and ends the process, and a watchdog
        # thread that is itself stuck (a hung kernel) is ended too: the job never outlives the timeout.
        os.environ.setdefault("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1")
        os.environ.setdefault("TORCH_NCCL_HEARTBEAT_TIMEOUT_SEC", str(max(60, round(60 * timeout_minutes))))
    if not torch.distributed.is_initialized():
        launch.export()
        torch.distributed.init_process_group(
            backend="nccl" if torch.cuda.is_available() else "gloo",
            rank=launch.rank, world_size=launch.world_size,
            timeout=datetime.timedelta(minutes=timeout_minutes),
        )
    parallel.data_parallel_size(launch.world_size)  # fails early with a clear message
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=parallel.tensor_model_parallel_size,
        pipeline_model_parallel_size=parallel.pipeline_model_parallel_size,
        virtual_pipeline_model_parallel_size=parallel.virtual_pipeline_model_parallel_size,
        distributed_timeout_minutes=timeout_minutes,
    )
    set_seed(seed)
    return launch


def set_seed(seed: int) -> None:
    """Megatron's convention: a different stream per pipeline stage, the TP RNG forked per rank."""
    from megatron.core import parallel_state, tensor_parallel

    stage_seed = seed + 100 * parallel_state.get_pipeline_model_parallel_rank()
    random.seed(stage_seed)
    np.random.seed(stage_seed)
    torch.manual_seed(stage_seed)
    tensor_parallel.model_parallel_cuda_manual_seed(stage_seed)


def destroy() -> None:
    """Undo `initialize`: the groups, and the CPU backend's adaptations of torch and megatron-core."""
    from megatron.core import parallel_state

    parallel_state.destroy_model_parallel()
    if torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
    cpu_backend.deactivate()
