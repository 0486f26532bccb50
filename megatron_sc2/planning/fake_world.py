"""A world of any size in one process: torch's `fake` process-group backend and megatron-core's
parallel state, as rank R of N would see them, with no GPU and no peers.

Collectives on the fake backend return at once, so megatron-core builds every module a real
rank builds. Its gloo groups cannot be made on that backend (an internal "Not implemented"), and
a plan needs none. Leaving the block destroys the parallel state, the microbatch calculator and
the process group, so planning several roles or stages in one process starts clean each time.
"""

from __future__ import annotations

import contextlib

from megatron_sc2.config import ParallelConfig
from megatron_sc2.runtime import cpu_backend


@contextlib.contextmanager
def fake_world(parallel: ParallelConfig, rank: int, world_size: int, seed: int = 1234):
    import torch.testing._internal.distributed.fake_pg
    from megatron.core import parallel_state, tensor_parallel
    from torch.testing._internal.distributed.fake_pg import FakeStore

    if torch.distributed.is_initialized():
        raise RuntimeError("planning needs a process without a process group: run it before any launch")
    cpu_backend.activate()
    torch.distributed.init_process_group("fake", rank=rank, world_size=world_size, store=FakeStore())
    try:
        parallel_state.initialize_model_parallel(
            tensor_model_parallel_size=parallel.tensor_model_parallel_size,
            pipeline_model_parallel_size=parallel.pipeline_model_parallel_size,
            virtual_pipeline_model_parallel_size=parallel.virtual_pipeline_model_parallel_size,
            create_gloo_process_groups=False,
        )
        tensor_parallel.model_parallel_cuda_manual_seed(seed)
        yield
    finally:
        from megatron.core.num_microbatches_calculator import destroy_num_microbatches_calculator

        destroy_num_microbatches_calculator()
        parallel_state.destroy_model_parallel()
        torch.distributed.destroy_process_group()


def first_rank_of_pipeline_stage(parallel: ParallelConfig, world_size: int, pipeline_rank: int) -> int:
    """The global rank of TP rank 0, DP rank 0 on `pipeline_rank` (megatron-core's default order,
    tp-cp-ep-dp-pp: the pipeline rank varies slowest). Checked against parallel_state by the caller."""
    return pipeline_rank * (world_size // parallel.pipeline_model_parallel_size)
