"""Analytic GPU memory per rank of a training layout: what the launchers' headers quote, what the
run logs at each stage's start, and what tools/gpu_acceptance.py measures against.

Three terms (docs/training.md, "Parallel layouts"):
- weights bf16 (2 B), gradients fp32 (4 B), fp32 master weights and two Adam moments (12 B,
  sharded over data parallel by the distributed optimizer), for parameters / (TP x PP);
- activations: at most 34 s b h / TP bytes per layer with sequence parallelism and selective
  recompute (Korthikanti et al. 2022; an MHA layer with dropout masks: a StarCoder2 layer, GQA
  without dropout, keeps about 28 s b h). Under 1F1B the first stage holds PP microbatches of
  L / PP layers, so every layout counts all L layers;
- logits and cross entropy in fp32, the vocabulary split over TP: about 10 s b V / TP bytes.
CUDA context, NCCL buffers and allocator slack (a few GiB) come on top.
"""

from __future__ import annotations

from dataclasses import dataclass

from megatron_sc2.config import ModelConfig

GIB = 2**30
ACTIVATION_BYTES_PER_TOKEN_AND_HIDDEN = 34  # the Korthikanti bound, per layer, before / TP
LOGITS_BYTES_PER_TOKEN_AND_VOCAB = 10


@dataclass(frozen=True)
class MemoryEstimate:
    states_gib: float  # weights, gradients, optimizer state
    activations_gib: float
    logits_gib: float

    @property
    def total_gib(self) -> float:
        return self.states_gib + self.activations_gib + self.logits_gib

    def line(self) -> str:
        return (f"~{self.total_gib:.1f} GiB per GPU (weights+grads+optimizer {self.states_gib:.1f}, "
                f"activations {self.activations_gib:.1f}, logits {self.logits_gib:.1f}) plus CUDA/NCCL overhead")


def activation_bytes_per_layer(model: ModelConfig, seq_length: int, micro_batch_size: int, tp: int) -> float:
    return ACTIVATION_BYTES_PER_TOKEN_AND_HIDDEN * seq_length * micro_batch_size * model.hidden_size / tp


def estimate_memory(model: ModelConfig, *, seq_length: int, tp: int, pp: int, dp: int,
                    micro_batch_size: int = 1, distributed_optimizer: bool = True) -> MemoryEstimate:
    params = model.num_parameters() / (tp * pp)
    optimizer_bytes = 12 / dp if distributed_optimizer else 12
    tokens = seq_length * micro_batch_size
    return MemoryEstimate(
        states_gib=params * (2 + 4 + optimizer_bytes) / GIB,
        activations_gib=model.num_layers * activation_bytes_per_layer(model, seq_length, micro_batch_size, tp) / GIB,
        logits_gib=LOGITS_BYTES_PER_TOKEN_AND_VOCAB * tokens * model.vocab_size / tp / GIB,
    )
