"""What megatron-core's 1F1B schedules keep in flight on each pipeline rank, and their bubble.

Non-interleaved 1F1B: pipeline rank r runs PP - r - 1 warmup forwards before its first backward,
so it holds min(PP - r, microbatches) microbatches of its layers at once; the first stage holds
the most. Interleaved (VPP chunks per rank): megatron-core's warmup is (PP - r - 1) x 2 +
(VPP - 1) x PP chunk-forwards (its microbatch group size is PP), each of L / (PP x VPP) layers;
the first stage then holds (1 + (PP - 1) / (PP x VPP)) x PP microbatches' worth of its layers,
Megatron-LM's interleaving penalty.
"""

from __future__ import annotations


def chunks_in_flight(pp: int, vpp: int | None, pipeline_rank: int, num_microbatches: int) -> int:
    """Chunk-forwards whose activations this rank holds at its peak (a chunk: its layers of one
    virtual stage; without interleaving, all its layers)."""
    if not vpp:
        return min(pp - pipeline_rank, num_microbatches)
    warmup = (pp - pipeline_rank - 1) * 2 + (vpp - 1) * pp
    return min(warmup + 1, num_microbatches * vpp)


def bubble_fraction(pp: int, vpp: int | None, num_microbatches: int) -> float:
    """Idle time over busy time per step: (PP - 1) / (VPP x microbatches)."""
    return (pp - 1) / ((vpp or 1) * num_microbatches)
