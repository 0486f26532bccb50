"""One optimizer step over a global batch, through megatron-core's pipeline schedules."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import torch


@dataclass
class StepResult:
    loss: float | None  # token-mean LM loss over the global batch; None off the last pipeline stage
    grad_norm: float | None
    update_successful: bool
    skipped: bool = False


class NonFiniteLoss(RuntimeError):
    pass


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


def collective_device() -> str:
    """Where a small tensor must live for the default process group: NCCL reduces CUDA tensors only."""
    return "cuda" if torch.cuda.is_available() else "cpu"


def loss_is_finite_everywhere(loss: float | None) -> bool:
    """The loss lives on the last pipeline stage; every rank must agree before the update."""
    finite = torch.tensor([1 if loss is None or math.isfinite(loss) else 0], dtype=torch.int32,
                          device=collective_device())
    torch.distributed.all_reduce(finite, op=torch.distributed.ReduceOp.MIN)
    return bool(finite.item())


def train_step(model: list, optimizer, data_iterators: list, *, num_microbatches: int, seq_length: int,
               micro_batch_size: int, skip_nonfinite: bool = False) -> StepResult:
    """Forward/backward over the microbatches, then the update, unless the loss is NaN/Inf:
    then the step is skipped (gradients dropped) or NonFiniteLoss is raised."""
    for chunk in model:
        chunk.zero_grad_buffer()
    optimizer.zero_grad()
    loss = run_forward_backward(
        model, data_iterators, num_microbatches=num_microbatches, seq_length=seq_length,
        micro_batch_size=micro_batch_size,
    )
    if not loss_is_finite_everywhere(loss):
        if not skip_nonfinite:
            raise NonFiniteLoss("the loss is NaN or Inf")
        return StepResult(loss=loss, grad_norm=None, update_successful=False, skipped=True)
    update_successful, grad_norm, _ = optimizer.step()
    return StepResult(loss=loss, grad_norm=grad_norm, update_successful=update_successful)
