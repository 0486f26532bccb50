"""Model FLOPs of a StarCoder2 training iteration, and the peak FLOP/s of the device, for MFU.

What is counted: matrix multiplications only, 2 FLOPs per multiply-add. Per token and layer:
QKV projection with GQA (n query heads, g KV groups, head dim d), attention scores QK^T and
context AV, output projection, the non-gated MLP (h -> ffn -> h); once per token, the logits
(h -> vocab, unpadded: padding is not model work). Elementwise work (LayerNorm, softmax, GELU,
RoPE, bias) and the embedding lookup are not counted, as in Megatron-LM and the PaLM paper.

Attention is counted exactly, not halved by a rule of thumb: documents are packed without an
attention reset at their ends (as StarCoder2 trains), so the query at position p sees
min(p + 1, W) keys, W being the sliding window (HF convention: the token itself and W - 1 before
it) or unbounded. Without a window the mean is (S + 1) / 2 keys per query. Megatron-LM's formula
counts S / 2 since 2025 (commit 8873b55d6a, "only half of the attention matrix is non-zero");
before that it counted S, which overstates a 15B 4k step by 6%. tests/test_flops.py pins the
exact relation.

Backward is twice the forward (data and weight gradients), so a training step is 3 forwards.
With full recompute the transformer layers run their forward once more (4x), the logits do not
(megatron-core recomputes inside the transformer block only). That extra forward is work the
hardware does, not model work: pass full_recompute=False for MFU in the PaLM sense.
"""

from __future__ import annotations

import re

from megatron_sc2.config import ModelConfig


def mean_attended_keys(seq_length: int, sliding_window: int | None) -> float:
    """Average over query positions p = 0..S-1 of min(p + 1, W): keys each query attends to."""
    window = seq_length if sliding_window is None else min(sliding_window, seq_length)
    ramp = window * (window + 1) / 2  # positions 0..W-1 see p + 1 keys
    plateau = (seq_length - window) * window  # the rest see W keys
    return (ramp + plateau) / seq_length


def layer_forward_flops_per_token(model: ModelConfig, seq_length: int, sliding_window: int | None) -> float:
    """Forward FLOPs of one transformer layer for one token, attention at its mean context."""
    h, f = model.hidden_size, model.ffn_hidden_size
    q_width = model.num_attention_heads * model.head_dim
    kv_width = model.num_query_groups * model.head_dim
    qkv = 2 * h * (q_width + 2 * kv_width)
    scores_and_context = 2 * (2 * q_width * mean_attended_keys(seq_length, sliding_window))
    out_projection = 2 * q_width * h
    mlp = 2 * (2 * h * f)
    return qkv + scores_and_context + out_projection + mlp


def logits_forward_flops_per_token(model: ModelConfig) -> float:
    return 2 * model.hidden_size * model.vocab_size


def flops_per_iteration(model: ModelConfig, seq_length: int, global_batch_size: int,
                        sliding_window: int | None, full_recompute: bool) -> float:
    """FLOPs of one optimizer step: forward + backward over `global_batch_size` sequences.

    `sliding_window` is the stage's window (it overrides `model.sliding_window`, which holds the
    released long-context value).
    """
    layer_passes = 4 if full_recompute else 3
    per_token = (
        layer_passes * model.num_layers * layer_forward_flops_per_token(model, seq_length, sliding_window)
        + 3 * logits_forward_flops_per_token(model)
    )
    return per_token * seq_length * global_batch_size


# Dense (no structured sparsity) bf16 tensor-core peak per device, TFLOP/s, from NVIDIA's data
# sheets (which print the 2:4-sparse figure, twice these). First match on the lower-cased
# torch.cuda.get_device_name() wins, so specific variants come before their family.
BF16_DENSE_PEAK_TFLOPS: tuple[tuple[str, float], ...] = (
    (r"gh200", 989.4),
    (r"h200 nvl", 835.5),
    (r"h200", 989.4),
    (r"h100 nvl", 835.5),
    (r"h100 pcie", 756.0),
    (r"h100", 989.4),  # SXM5, reported as "NVIDIA H100 80GB HBM3"
    (r"b200", 2250.0),
    (r"a100|a800", 312.0),  # SXM4 and PCIe, 40 and 80 GB
    (r"l40s", 362.05),
    (r"l40\b", 181.05),
    (r"\bl4\b", 121.0),
    (r"\ba10\b", 125.0),
)


def device_peak_tflops(device_name: str, bf16: bool) -> float | None:
    """Peak dense TFLOP/s of `device_name` for the run's precision; None when unknown.

    Only bf16 tensor-core peaks are tabulated: an fp32 run (CPU, or GPU without TF32) has no
    meaningful entry, so its MFU is None unless the user states the peak (--peak-tflops).
    """
    if not bf16:
        return None
    name = device_name.lower()
    for pattern, tflops in BF16_DENSE_PEAK_TFLOPS:
        if re.search(pattern, name):
            return tflops
    return None


def local_device_name() -> str:
    """The name the peak table is keyed by: the CUDA device's, or 'cpu'."""
    import torch

    return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
