"""The layer spec a plan builds: megatron-core's local spec, with two substitutions that make the
CPU build match what a GPU rank holds.

- LayerNorm: megatron-core's torch LayerNorm refuses sequence parallelism (TransformerEngine's
  fused norm is what GPUs use). Its stand-in normalizes each rank's own tokens, as TE's does, so
  the TP linears around it gather and scatter the sequence as they do on GPUs. Same parameters.
- Core attention, when planning for GPUs: the local spec keeps the s x s scores and probabilities
  for backward; flash/fused attention keeps only its output and a log-sum-exp per query (the
  correction docs/training.md describes). The stand-in runs torch's own flash-attention kernel
  (`scaled_dot_product_attention`, which on CPU is the flash algorithm), so the bytes it keeps are
  measured too, not assumed. A sliding window changes the work, not the bytes kept.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class SequenceParallelLayerNorm(torch.nn.LayerNorm):
    """torch's LayerNorm under megatron-core's norm signature, sequence parallelism allowed."""

    def __init__(self, config, hidden_size: int, eps: float = 1e-5, **_):
        super().__init__(hidden_size, eps=eps, dtype=config.params_dtype)
        for parameter in self.parameters():
            parameter.sequence_parallel = config.sequence_parallel


class FlashAttention(torch.nn.Module):
    """DotProductAttention's interface over torch's flash kernel: [s, b, heads, d] in, [s, b, heads x d] out."""

    def __init__(self, config, layer_number, attn_mask_type, attention_type, **_):
        super().__init__()
        self.config = config

    def forward(self, query, key, value, attention_mask, attn_mask_type=None, attention_bias=None,
                packed_seq_params=None):
        q, k, v = (x.permute(1, 2, 0, 3) for x in (query, key, value))  # [b, heads, s, d]
        context = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)
        s, b = query.shape[0], query.shape[1]
        return context.permute(2, 0, 1, 3).reshape(s, b, -1)


def planning_spec(layers: int, gpu_attention: bool):
    """A block spec of `layers` local layers (megatron-core builds the final norm from it too)."""
    from megatron.core.models.gpt.gpt_layer_specs import get_gpt_layer_local_spec
    from megatron.core.transformer.transformer_block import TransformerBlockSubmodules

    layer = get_gpt_layer_local_spec(normalization="LayerNorm")
    layer.submodules.input_layernorm = SequenceParallelLayerNorm
    layer.submodules.pre_mlp_layernorm = SequenceParallelLayerNorm
    if gpu_attention:
        layer.submodules.self_attention.submodules.core_attention = FlashAttention
    return TransformerBlockSubmodules(layer_specs=[layer] * layers, layer_norm=SequenceParallelLayerNorm)
