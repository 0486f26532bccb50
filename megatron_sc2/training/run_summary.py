"""What the trainer says once at start-up: the model's size and the layout it resolved.

Each rank holds a part of the model: its pipeline stage's layers, with the tensor-parallel weights
split over the TP ranks and the rest (norms, some biases) repeated on each; with tied embeddings,
the last stage holds a copy of the first stage's embedding as its output layer. The whole model's
count adds every rank's own part over the TP x PP group: split weights from each TP rank, repeated
ones from TP rank 0, and the tied copy not at all (the parameter count the planner and transformers give).
"""

from __future__ import annotations

import torch

from megatron_sc2 import runtime
from megatron_sc2.config import ModelConfig
from megatron_sc2.training.arguments import RunConfig


def parameter_count(model: list) -> int:
    """The whole model's parameters; a collective over the model-parallel group (call on every rank)."""
    from megatron.core import parallel_state
    from megatron.core.tensor_parallel import param_is_not_tensor_parallel_duplicate

    first_stage = parallel_state.is_pipeline_first_stage(ignore_virtual=True)
    own = sum(p.numel() for chunk in model for p in chunk.parameters()
              if param_is_not_tensor_parallel_duplicate(p)
              and (first_stage or not getattr(p, "shared_embedding", False)))
    total = torch.tensor([own], dtype=torch.int64, device=runtime.device())
    torch.distributed.all_reduce(total, group=parallel_state.get_model_parallel_group())
    return int(total.item())


def model_line(count: int, model: ModelConfig) -> str:
    return (f"model: {count:,} parameters ({model.num_layers} layers, hidden {model.hidden_size}, "
            f"{model.num_attention_heads} heads, {model.num_query_groups} query groups, "
            f"vocabulary {model.vocab_size})")


def layout_line(run: RunConfig, world_size: int, dp_size: int) -> str:
    parallel = run.parallel
    virtual = f" (VPP {parallel.virtual_pipeline_model_parallel_size})" \
        if parallel.virtual_pipeline_model_parallel_size else ""
    return (f"layout: TP {parallel.tensor_model_parallel_size} x PP {parallel.pipeline_model_parallel_size}"
            f"{virtual} x DP {dp_size} on {world_size} ranks; micro batch {run.batch.micro_batch_size}; "
            f"distributed optimizer {'on' if parallel.use_distributed_optimizer else 'off'}; "
            f"{'bf16' if run.optimizer.bf16 else 'fp32'}")
