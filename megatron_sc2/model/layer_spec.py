"""The transformer layer spec: TransformerEngine's fused modules on GPU, megatron-core's local ones on CPU."""

from __future__ import annotations

import torch

from megatron_sc2.model.fusions import importable


def transformer_engine_available() -> bool:
    return torch.cuda.is_available() and importable("transformer_engine.pytorch")


def layer_spec(use_transformer_engine: bool | None = None):
    """TE spec: fused LayerNorm+QKV and LayerNorm+FC1, flash/fused attention (GQA, sliding
    window), fused RoPE. Local spec: the same parameters and numerics in plain PyTorch."""
    from megatron.core.models.gpt.gpt_layer_specs import (
        get_gpt_layer_local_spec,
        get_gpt_layer_with_transformer_engine_spec,
    )

    if use_transformer_engine is None:
        use_transformer_engine = transformer_engine_available()
    if use_transformer_engine:
        return get_gpt_layer_with_transformer_engine_spec()
    return get_gpt_layer_local_spec(normalization="LayerNorm")
