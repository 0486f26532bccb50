"""Build the StarCoder2 GPTModel chunks this rank holds."""

from __future__ import annotations

from megatron_sc2.config import ModelConfig


def build_model(model: ModelConfig, transformer_config, *, max_sequence_length: int, spec=None) -> list:
    """One GPTModel per virtual pipeline stage held by this rank (one without interleaving);
    with bf16, each in megatron-core's Float16Module (bf16 inputs, fp32 logits)."""
    from megatron.core import parallel_state
    from megatron.core.models.gpt import GPTModel
    from megatron.core.transformer.module import Float16Module

    from megatron_sc2.model.layer_spec import layer_spec

    spec = layer_spec() if spec is None else spec
    tp = parallel_state.get_tensor_model_parallel_world_size()
    vpp = parallel_state.get_virtual_pipeline_model_parallel_world_size()
    chunks = []
    for vp_stage in range(vpp or 1):
        stage = vp_stage if vpp else None
        chunks.append(
            GPTModel(
                config=transformer_config,
                transformer_layer_spec=spec,
                vocab_size=model.padded_vocab_size(tp),
                max_sequence_length=max_sequence_length,
                pre_process=parallel_state.is_pipeline_first_stage(ignore_virtual=False, vp_stage=stage),
                post_process=parallel_state.is_pipeline_last_stage(ignore_virtual=False, vp_stage=stage),
                share_embeddings_and_output_weights=model.tie_embeddings,
                position_embedding_type="rope",
                rotary_percent=1.0,
                rotary_base=model.rotary_base,
                parallel_output=True,
                vp_stage=stage,
            )
        )
    if transformer_config.bf16:
        chunks = [Float16Module(transformer_config, chunk) for chunk in chunks]
    return chunks
