"""Parameters, weights, gradients and optimizer state of one rank, from the megatron-core modules
that rank builds, on the meta device (no memory).

The model chunks come from the trainer's own `build_model`; megatron-core's DDP then lays out its
contiguous buffers over them as on a GPU (bucketed, with the distributed optimizer's padding), with
`torch.cuda.current_device()` naming the meta device while it does. Bytes per buffer element:
the weights in the parameter dtype (2 with bf16), the gradients in fp32 (grad_reduce_in_fp32), and
the optimizer's fp32 main weights (bf16 runs only) and two Adam moments, each DP rank holding
1 / DP of every buffer with the distributed optimizer, all of it without.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from megatron_sc2.config import ModelConfig, ParallelConfig


@dataclass(frozen=True)
class RankWeights:
    chunk_parameters: list[int]  # per virtual pipeline chunk
    model_parameters: int  # this pipeline stage's share of the whole model: TP shards x TP, each copy once
    weights_bytes: int
    grads_bytes: int
    optimizer_bytes: int

    @property
    def parameters(self) -> int:
        return sum(self.chunk_parameters)


@contextlib.contextmanager
def _cuda_is_meta():
    current = torch.cuda.current_device
    torch.cuda.current_device = lambda: torch.device("meta")
    try:
        with torch.device("meta"):
            yield
    finally:
        torch.cuda.current_device = current


def build_rank_weights(model: ModelConfig, transformer_config, parallel: ParallelConfig, spec, *,
                       max_sequence_length: int, dp: int) -> RankWeights:
    """Inside a fake world: this rank's chunks and DDP buffers, counted."""
    from megatron.core import parallel_state

    from megatron_sc2.model import build_model
    from megatron_sc2.training.optim import wrap_ddp

    with _cuda_is_meta():
        chunks = build_model(model, transformer_config, max_sequence_length=max_sequence_length, spec=spec)
        ddp = wrap_ddp(chunks, transformer_config, parallel, on_gpu=True)
    counts = [sum(p.numel() for p in chunk.parameters()) for chunk in chunks]
    first_stage = parallel_state.is_pipeline_first_stage(ignore_virtual=True)
    tp = parallel_state.get_tensor_model_parallel_world_size()
    whole = sum(p.numel() * (tp if getattr(p, "tensor_model_parallel", False) else 1)
                for chunk in chunks for p in chunk.parameters()
                if first_stage or not getattr(p, "shared_embedding", False))  # a tied output layer is a copy
    buffers = [buffer for chunk in ddp for buffer in chunk.buffers]
    weights = sum(b.numel * b.param_dtype.itemsize for b in buffers)
    grads = sum(b.numel * b.grad_dtype.itemsize for b in buffers)
    main_weights = 4 if transformer_config.bf16 else 0
    per_element = main_weights + 8  # fp32 main weights, Adam's two fp32 moments
    if parallel.use_distributed_optimizer:
        optimizer = sum(b.numel // dp * per_element for b in buffers)
    else:
        optimizer = sum(b.numel_unpadded * per_element for b in buffers)
    return RankWeights(chunk_parameters=counts, model_parameters=whole, weights_bytes=weights, grads_bytes=grads, optimizer_bytes=optimizer)
