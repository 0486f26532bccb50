import math

import pytest
import torch

from megatron_sc2.config import PRESETS, ModelConfig, ParallelConfig, get_preset, load_model_config
from megatron_sc2.model import build_model, gelu_tanh, to_transformer_config, window_size


@pytest.mark.parametrize(
    "name, billions", [("sc2-3b", 3.030), ("sc2-7b", 7.174), ("sc2-15b", 15.958)]
)
def test_released_sizes_have_the_published_parameter_counts(name, billions):
    assert PRESETS[name].num_parameters() / 1e9 == pytest.approx(billions, abs=5e-4)


def test_presets_follow_the_reference_architecture():
    sc2_15b = get_preset("sc2-15b")
    assert (sc2_15b.num_layers, sc2_15b.hidden_size, sc2_15b.num_attention_heads) == (40, 6144, 48)
    assert (sc2_15b.num_query_groups, sc2_15b.ffn_hidden_size, sc2_15b.head_dim) == (4, 24576, 128)
    assert not sc2_15b.tie_embeddings and get_preset("sc2-3b").tie_embeddings
    assert all(p.vocab_size == 49152 and p.layernorm_epsilon == 1e-5 for n, p in PRESETS.items() if "sc2-" in n
               and n[4:] in ("3b", "7b", "15b"))
    assert get_preset("sc2-3b").padded_vocab_size(2) == 49152  # 49152 divides 128 * TP: no padding


def test_custom_size_from_file(tmp_path):
    path = tmp_path / "model.yaml"
    path.write_text("preset: sc2-3b\nnum_layers: 2\nvocab_size: 1000\n")
    cfg = load_model_config(str(path))
    assert cfg.num_layers == 2 and cfg.hidden_size == 3072 and cfg.padded_vocab_size(2) == 1024
    path.write_text("num_layerz: 2\n")
    with pytest.raises(ValueError, match="unknown model config keys.*num_layerz"):
        load_model_config(str(path))
    with pytest.raises(ValueError, match="neither a preset"):
        load_model_config("sc2-300b")


@pytest.mark.parametrize(
    "layout, message",
    [
        (ParallelConfig(tensor_model_parallel_size=4), "must divide the 2 KV groups"),
        (ParallelConfig(pipeline_model_parallel_size=3), "4 layers cannot be split evenly into 3"),
        (ParallelConfig(pipeline_model_parallel_size=2, virtual_pipeline_model_parallel_size=4),
         "into 2 pipeline stages x 4 virtual"),
    ],
)
def test_invalid_layouts_say_what_to_change(layout, message):
    with pytest.raises(ValueError, match=message):
        layout.validate_for(get_preset("sc2-tiny"))


def test_world_size_must_fit_the_layout():
    with pytest.raises(ValueError, match="world size 6 is not divisible"):
        ParallelConfig(tensor_model_parallel_size=4).data_parallel_size(6)


def test_invalid_architecture_is_rejected():
    with pytest.raises(ValueError, match="not a multiple of num_query_groups"):
        ModelConfig(num_layers=2, hidden_size=64, num_attention_heads=8, num_query_groups=3, ffn_hidden_size=256)


def test_activation_is_tanh_gelu():
    x = torch.linspace(-4, 4, 101)
    tanh_gelu = 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))
    torch.testing.assert_close(gelu_tanh(x), tanh_gelu)
    config = to_transformer_config(get_preset("sc2-tiny"), ParallelConfig())
    assert config.activation_func is gelu_tanh and not config.gated_linear_unit
    assert config.add_bias_linear and config.normalization == "LayerNorm"


def reference_attention(q, k, v, window):
    """HF Starcoder2's rule: query i sees key j iff 0 <= i - j < window."""
    s = q.shape[0]
    i, j = torch.arange(s)[:, None], torch.arange(s)[None, :]
    allowed = (i - j >= 0) & (i - j < window)
    scores = torch.einsum("qhd,khd->hqk", q, k) / math.sqrt(q.shape[-1])
    probs = torch.softmax(scores.masked_fill(~allowed, float("-inf")), dim=-1)
    return torch.einsum("hqk,khd->qhd", probs, v)


@pytest.mark.parametrize("window", [1, 3, 8, 64])
def test_sliding_window_matches_hf_convention(single_process_group, window):
    from megatron.core.transformer.dot_product_attention import DotProductAttention
    from megatron.core.transformer.enums import AttnMaskType

    cfg = get_preset("sc2-tiny").replace(sliding_window=window)
    assert window_size(cfg) == (window - 1, 0)
    attention = DotProductAttention(
        to_transformer_config(cfg, ParallelConfig()), layer_number=1, attn_mask_type=AttnMaskType.causal,
        attention_type="self",
    )
    seq, heads, groups, dim = 16, cfg.num_attention_heads, cfg.num_query_groups, cfg.head_dim
    gen = torch.Generator().manual_seed(window)
    q = torch.randn(seq, 1, heads, dim, generator=gen)
    k, v = (torch.randn(seq, 1, groups, dim, generator=gen) for _ in range(2))
    out = attention(q, k, v, attention_mask=None).view(seq, heads, dim)
    expand = heads // groups  # GQA: each KV head serves `expand` consecutive query heads
    expected = reference_attention(
        q[:, 0], k[:, 0].repeat_interleave(expand, dim=1), v[:, 0].repeat_interleave(expand, dim=1), window
    )
    torch.testing.assert_close(out, expected)


def test_model_builds_and_runs_on_cpu(single_process_group):
    cfg = get_preset("sc2-tiny")
    (model,) = build_model(cfg, to_transformer_config(cfg, ParallelConfig()), max_sequence_length=32)
    tokens = torch.randint(0, cfg.vocab_size, (2, 32))
    logits = model(tokens, torch.arange(32).expand(2, 32), attention_mask=None)
    assert logits.shape == (2, 32, cfg.padded_vocab_size(1))
    assert torch.isfinite(logits).all()


def test_sequence_parallel_without_transformer_engine_says_so():
    with pytest.raises(ValueError, match="--sequence-parallel needs TransformerEngine"):
        to_transformer_config(get_preset("sc2-tiny"), ParallelConfig(tensor_model_parallel_size=2,
                                                                     sequence_parallel=True))
