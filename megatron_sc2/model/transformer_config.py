"""StarCoder2 architecture + parallel layout -> megatron-core TransformerConfig."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from megatron_sc2.config import ModelConfig, ParallelConfig
from megatron_sc2.model.fusions import fusion_switches
from megatron_sc2.model.layer_spec import transformer_engine_available

SEQUENCE_PARALLEL_NEEDS_TE = ("--sequence-parallel needs TransformerEngine on GPUs (megatron-core's local "
                              "LayerNorm does not support it): use --no-sequence-parallel here")


def gelu_tanh(x: torch.Tensor) -> torch.Tensor:
    """StarCoder2's activation (HF `gelu_pytorch_tanh`)."""
    return F.gelu(x, approximate="tanh")


@dataclass(frozen=True)
class RecomputeConfig:
    """Megatron's activation recompute: 'selective' (attention core) or 'full' (whole layers)."""

    granularity: str | None = None
    method: str = "uniform"
    num_layers: int = 1


def window_size(model: ModelConfig) -> tuple[int, int] | None:
    """HF's window W lets a token see W keys, itself included; megatron's (left, 0) sees left + 1."""
    return None if model.sliding_window is None else (model.sliding_window - 1, 0)


def to_transformer_config(
    model: ModelConfig,
    parallel: ParallelConfig,
    *,
    bf16: bool = False,
    recompute: RecomputeConfig = RecomputeConfig(),
):
    from megatron.core.transformer import TransformerConfig

    parallel.validate_for(model)
    if parallel.sequence_parallel and not transformer_engine_available():
        raise ValueError(SEQUENCE_PARALLEL_NEEDS_TE)
    on_gpu = torch.cuda.is_available()
    dtype = torch.bfloat16 if bf16 else torch.float32
    # On GPU the fused bias+GELU kernel (megatron-core's tanh approximation) runs; on CPU the
    # same tanh formula runs unfused. Each fusion is on where its kernel exists (model/fusions.py).
    fusions = fusion_switches(on_gpu=on_gpu, sliding_window=model.sliding_window is not None)
    return TransformerConfig(
        num_layers=model.num_layers,
        hidden_size=model.hidden_size,
        num_attention_heads=model.num_attention_heads,
        num_query_groups=model.num_query_groups,
        ffn_hidden_size=model.ffn_hidden_size,
        kv_channels=model.head_dim,
        normalization="LayerNorm",
        layernorm_epsilon=model.layernorm_epsilon,
        add_bias_linear=True,
        add_qkv_bias=True,
        gated_linear_unit=False,
        activation_func=F.gelu if fusions["bias_activation_fusion"] else gelu_tanh,
        hidden_dropout=model.hidden_dropout,
        attention_dropout=model.attention_dropout,
        init_method_std=model.init_method_std,
        attention_softmax_in_fp32=True,
        calculate_per_token_loss=True,
        # Checkpoint keys per global layer (decoder.layers.<i>.*) rather than one [num_layers, ...]
        # tensor per name: resharding still works, and converters stream one layer at a time.
        hetereogenous_dist_checkpoint=True,
        window_size=window_size(model),
        tensor_model_parallel_size=parallel.tensor_model_parallel_size,
        pipeline_model_parallel_size=parallel.pipeline_model_parallel_size,
        virtual_pipeline_model_parallel_size=parallel.virtual_pipeline_model_parallel_size,
        sequence_parallel=parallel.sequence_parallel,
        params_dtype=dtype,
        pipeline_dtype=dtype,
        bf16=bf16,
        use_cpu_initialization=not on_gpu,
        # gloo pairs a peer's sends and receives in posting order: batched p2p with PP=2 and
        # interleaving (prev rank == next rank) would cross activations and gradients.
        batch_p2p_comm=on_gpu,
        **fusions,
        recompute_granularity=recompute.granularity,
        recompute_method=recompute.method if recompute.granularity == "full" else None,
        recompute_num_layers=recompute.num_layers if recompute.granularity == "full" else None,
    )
