"""Time and cost of a stage at an assumed model FLOPs utilization.

`--assumed-mfu` is the share of the GPUs' peak that the busy part of a step reaches on the work it
runs (training/flops.py's matrix FLOPs); the pipeline bubble comes on top. With full recompute that
work includes each layer's second forward, so the step takes longer for the same model FLOPs.
"""

from __future__ import annotations

from dataclasses import dataclass

from megatron_sc2.config import ModelConfig
from megatron_sc2.training.flops import flops_per_iteration
from megatron_sc2.training.stages import Stage

SECONDS_PER_DAY = 86400


@dataclass(frozen=True)
class StageCost:
    flops_per_iteration: float  # model FLOPs (no recompute)
    tokens_per_iteration: int
    bubble: float
    step_seconds: float
    tokens_per_second_per_gpu: float
    days: float


def stage_cost(model: ModelConfig, stage: Stage, *, world_size: int, peak_tflops: float, mfu: float,
               bubble: float, full_recompute: bool) -> StageCost:
    model_flops = flops_per_iteration(model, stage.seq_length, stage.global_batch_size, stage.sliding_window,
                                      full_recompute=False)
    hardware_flops = flops_per_iteration(model, stage.seq_length, stage.global_batch_size, stage.sliding_window,
                                         full_recompute=full_recompute)
    busy = hardware_flops / (world_size * peak_tflops * 1e12 * mfu)
    step = busy * (1 + bubble)
    return StageCost(
        flops_per_iteration=model_flops, tokens_per_iteration=stage.tokens_per_iteration, bubble=bubble,
        step_seconds=step, tokens_per_second_per_gpu=stage.tokens_per_iteration / step / world_size,
        days=stage.train_iters * step / SECONDS_PER_DAY,
    )
