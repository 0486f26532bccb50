"""StarCoder2 on megatron-core: TransformerConfig, layer spec, GPTModel per pipeline stage."""

from megatron_sc2.model.gpt import build_model
from megatron_sc2.model.layer_spec import layer_spec, transformer_engine_available
from megatron_sc2.model.transformer_config import (
    RecomputeConfig,
    gelu_tanh,
    to_transformer_config,
    window_size,
)

__all__ = [
    "RecomputeConfig", "build_model", "gelu_tanh", "layer_spec", "to_transformer_config",
    "transformer_engine_available", "window_size",
]
