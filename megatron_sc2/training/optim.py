"""megatron-core DDP around the model chunks, its (distributed) optimizer, and the wiring
between them that the pipeline schedules expect."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from megatron_sc2.config import ParallelConfig


@dataclass(frozen=True)
class OptimizerSettings:
    """StarCoder2's AdamW defaults (docs/starcoder2.md)."""

    lr: float = 3e-4
    min_lr: float = 3e-5
    weight_decay: float = 0.1
    adam_beta1: float = 0.9
    adam_beta2: float = 0.95
    adam_eps: float = 1e-8
    clip_grad: float = 1.0


def wrap_ddp(chunks: list, transformer_config, parallel: ParallelConfig, on_gpu: bool | None = None) -> list:
    """`on_gpu` (default: whether CUDA is here) picks GPU's overlapped, bucketed gradient reduction;
    the planner lays out a GPU rank's buffers on a CPU."""
    from megatron.core.distributed import DistributedDataParallel, DistributedDataParallelConfig

    on_gpu = torch.cuda.is_available() if on_gpu is None else on_gpu
    ddp_config = DistributedDataParallelConfig(
        grad_reduce_in_fp32=True,
        overlap_grad_reduce=on_gpu,
        overlap_param_gather=on_gpu and parallel.use_distributed_optimizer,
        use_distributed_optimizer=parallel.use_distributed_optimizer,
        check_for_nan_in_grad=False,
    )
    return [
        DistributedDataParallel(
            config=transformer_config, ddp_config=ddp_config, module=chunk,
            # Megatron-LM's rule: only the first chunk buckets, so later chunks' grads reduce at the end.
            disable_bucketing=index > 0,
        )
        for index, chunk in enumerate(chunks)
    ]


def build_optimizer(model: list, settings: OptimizerSettings, parallel: ParallelConfig, *, bf16: bool):
    from megatron.core.distributed import finalize_model_grads
    from megatron.core.optimizer import OptimizerConfig, get_megatron_optimizer
    from megatron.core.utils import get_model_config

    optimizer = get_megatron_optimizer(
        OptimizerConfig(
            optimizer="adam",
            lr=settings.lr,
            min_lr=settings.min_lr,
            weight_decay=settings.weight_decay,
            adam_beta1=settings.adam_beta1,
            adam_beta2=settings.adam_beta2,
            adam_eps=settings.adam_eps,
            clip_grad=settings.clip_grad,
            bf16=bf16,
            params_dtype=torch.bfloat16 if bf16 else torch.float32,
            use_distributed_optimizer=parallel.use_distributed_optimizer,
        ),
        model,
    )
    config = get_model_config(model[0])
    config.grad_scale_func = optimizer.scale_loss
    config.finalize_model_grads_func = finalize_model_grads
    if model[0].ddp_config.overlap_grad_reduce:
        no_sync = [chunk.no_sync for chunk in model]
        config.no_sync_func = no_sync[0] if len(model) == 1 else no_sync
    if model[0].ddp_config.overlap_param_gather:
        sync = [chunk.start_param_sync for chunk in model]
        config.param_sync_func = sync[0] if len(model) == 1 else sync
    return optimizer


def with_run_learning_rates(saved_state: dict, optimizer) -> dict:
    """A loaded optimizer state with this optimizer's max/min LR in its param groups.

    The LR schedule is the run's, never the checkpoint's (a stage sets its own); and megatron-core
    0.19 pairs saved and current param groups by a key that includes max/min LR, so a stage with
    its own LR would otherwise find no saved group to load.
    """
    (max_lr, min_lr), = {(group["max_lr"], group["min_lr"]) for group in optimizer.param_groups}

    def visit(node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "param_groups":
                    for group in value:
                        group.update(max_lr=max_lr, min_lr=min_lr)
                else:
                    visit(value)
        elif isinstance(node, (list, tuple)):
            for value in node:
                visit(value)

    visit(saved_state)
    return saved_state
