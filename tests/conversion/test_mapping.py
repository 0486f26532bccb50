"""The fused-QKV layout, vocab padding and the config mapping, against their specification."""

import pytest
import torch

from megatron_sc2.config import get_preset
from megatron_sc2.conversion import hf_io
from megatron_sc2.conversion.mapping import hf_shapes, merge_qkv, pad_vocab, params, split_qkv


@pytest.mark.parametrize("preset", ["sc2-3b", "sc2-7b", "sc2-15b", "sc2-tiny"])
def test_fused_qkv_rows_are_grouped_query_heads_then_k_then_v(preset):
    model = get_preset(preset)
    groups, d = model.num_query_groups, model.head_dim
    per_group = model.num_attention_heads // groups
    # every row holds (kind, head, row-in-head) so the fused order can be read back
    q = torch.tensor([[0, h, r] for h in range(model.num_attention_heads) for r in range(d)])
    k = torch.tensor([[1, g, r] for g in range(groups) for r in range(d)])
    v = torch.tensor([[2, g, r] for g in range(groups) for r in range(d)])

    fused = merge_qkv(q, k, v, model)

    expected = []
    for g in range(groups):
        expected += [[0, h, r] for h in range(g * per_group, (g + 1) * per_group) for r in range(d)]
        expected += [[1, g, r] for r in range(d)] + [[2, g, r] for r in range(d)]
    assert fused.tolist() == expected
    assert fused.shape[0] == (model.num_attention_heads + 2 * groups) * d
    for before, after in zip((q, k, v), split_qkv(fused, model)):
        assert torch.equal(before, after)


def test_qkv_bias_uses_the_weight_layout():
    model = get_preset("sc2-tiny")
    q, k, v = (torch.randn(n * model.head_dim, model.hidden_size) for n in (8, 2, 2))
    fused_weight = merge_qkv(q, k, v, model)
    fused_bias = merge_qkv(q[:, 0], k[:, 0], v[:, 0], model)
    assert torch.equal(fused_bias, fused_weight[:, 0])


def test_vocab_padding_adds_zero_rows_that_export_drops():
    weight = torch.randn(1000, 8)
    padded = pad_vocab(weight, 1024)
    assert padded.shape == (1024, 8) and torch.equal(padded[:1000], weight) and not padded[1000:].any()


@pytest.mark.parametrize("preset", ["sc2-3b", "sc2-15b"])
def test_table_covers_every_hf_tensor_once_and_counts_the_parameters(preset):
    model = get_preset(preset)
    names = [name for param in params(model) for name in param.hf]
    assert sorted(names) == sorted(hf_shapes(model)) and len(names) == len(set(names))
    assert sum(torch.Size(s).numel() for s in hf_shapes(model).values()) == model.num_parameters()


def test_config_round_trip_through_starcoder2_config(tmp_path):
    model = get_preset("sc2-3b")
    hf_io.write_json(tmp_path / "config.json", hf_io.hf_config(model, torch.bfloat16, eod_id=0))
    assert hf_io.model_config_from_hf(tmp_path) == model


def test_parse_size():
    assert hf_io.parse_size("5GB") == 5 * 10**9
    assert hf_io.parse_size("500MiB") == 500 * 2**20
    with pytest.raises(ValueError, match="cannot parse size"):
        hf_io.parse_size("five gigs")
