"""One optimizer step over a global batch, through megatron-core's pipeline schedules."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import torch


@dataclass
class StepResult:
    loss: float | None  # token-mean LM loss over the global batch; None off the last pipeline stage
    grad_norm: float | None
    update_successful: bool


def _loss_func(loss_mask: torch.Tensor, output_tensor: torch.Tensor):
    """Sum of token losses and their count: the schedule and DDP divide by the global count."""
    mask = loss_mask.reshape(-1).float()
    loss_sum = torch.sum(output_tensor.reshape(-1).float() * mask)
    num_tokens = mask.sum().to(torch.int)
    return loss_sum, num_tokens, {"lm loss": torch.stack([loss_sum.detach(), mask.sum()])}


def forward_step(data_iterator, model):
    batch = next(data_iterator)
    output = model(
        batch["tokens"], batch["position_ids"], attention_mask=None, labels=batch["labels"]
    )
    return output, partial(_loss_func, batch["loss_mask"])


def move_batch(batch: dict, device: torch.device) -> dict:
    return {k: v.to(device, non_blocking=True) if torch.is_tensor(v) else v for k, v in batch.items()}


def run_forward_backward(model: list, data_iterators: list, *, num_microbatches: int, seq_length: int,
                         micro_batch_size: int, forward_only: bool = False) -> float | None:
    """Token-mean loss of the microbatches (on the last stage, reduced over data parallel)."""
    from megatron.core import parallel_state
    from megatron.core.pipeline_parallel import get_forward_backward_func

    losses = get_forward_backward_func()(
        forward_step_func=forward_step,
        data_iterator=data_iterators if len(model) > 1 else data_iterators[0],
        model=model if len(model) > 1 else model[0],
        num_microbatches=num_microbatches,
        seq_length=seq_length,
        micro_batch_size=micro_batch_size,
        forward_only=forward_only,
    )
    if not parallel_state.is_pipeline_last_stage(ignore_virtual=True):
        return None
    totals = torch.stack([entry["lm loss"] for entry in losses]).sum(dim=0)
    torch.distributed.all_reduce(totals, group=parallel_state.get_data_parallel_group())
    return (totals[0] / totals[1]).item()


def train_step(model: list, optimizer, data_iterators: list, *, num_microbatches: int, seq_length: int,
               micro_batch_size: int) -> StepResult:
    for chunk in model:
        chunk.zero_grad_buffer()
    optimizer.zero_grad()
    loss = run_forward_backward(
        model, data_iterators, num_microbatches=num_microbatches, seq_length=seq_length,
        micro_batch_size=micro_batch_size,
    )
    update_successful, grad_norm, _ = optimizer.step()
    return StepResult(loss=loss, grad_norm=grad_norm, update_successful=update_successful)
