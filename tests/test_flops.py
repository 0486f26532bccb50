import pytest

from megatron_sc2.config import ModelConfig, get_preset
from megatron_sc2.training.flops import (
    device_peak_tflops,
    flops_per_iteration,
    layer_forward_flops_per_token,
    mean_attended_keys,
)

# h=4, 2 query heads of d=2, 1 KV group, ffn 8, vocab 10.
TOY = ModelConfig(num_layers=1, hidden_size=4, num_attention_heads=2, num_query_groups=1,
                  ffn_hidden_size=8, vocab_size=10)


def test_toy_model_by_hand():
    """Per token forward, S=3 (keys seen: 1, 2, 3; mean 2):
    QKV 2*4*(4+2+2)=64, scores+context 2*2*4*2=32, out 2*4*4=32, MLP 2*2*4*8=128, logits 2*4*10=80.
    Layer 256 + logits 80 = 336 per token; 3 tokens x 3 passes = 3024 for one sequence.
    Full recompute adds one layer forward: 3024 + 256*3 = 3792."""
    assert layer_forward_flops_per_token(TOY, 3, None) == 256
    assert flops_per_iteration(TOY, 3, 1, None, False) == 3024
    assert flops_per_iteration(TOY, 3, 1, None, True) == 3792
    assert flops_per_iteration(TOY, 3, 5, None, False) == 5 * 3024


def test_toy_model_sliding_window_by_hand():
    """W=2, S=3: keys seen 1, 2, 2, mean 5/3; scores+context 2*2*4*5/3 = 80/3 instead of 32,
    so the step loses (32 - 80/3) * 3 tokens * 3 passes = 48 FLOPs."""
    assert mean_attended_keys(3, 2) == pytest.approx(5 / 3)
    assert flops_per_iteration(TOY, 3, 1, 2, False) == pytest.approx(3024 - 48)


@pytest.mark.parametrize("seq_length,window", [(1, None), (7, 1), (7, 3), (16, 16), (16, 40), (33, 8)])
def test_mean_attended_keys_counts_every_query(seq_length, window):
    bound = seq_length if window is None else window
    keys = [min(p + 1, bound) for p in range(seq_length)]
    assert mean_attended_keys(seq_length, window) == pytest.approx(sum(keys) / seq_length)


@pytest.mark.parametrize("preset", ["sc2-3b", "sc2-7b", "sc2-15b"])
def test_sliding_window_removes_exactly_the_masked_attention(preset):
    """Only QK^T and AV shrink: 3 passes x 2 GEMMs x 2 FLOPs x (n*d) per attended key, per layer."""
    model = get_preset(preset)
    seq, window, batch = 16384, 4096, 2
    full = flops_per_iteration(model, seq, batch, None, False)
    windowed = flops_per_iteration(model, seq, batch, window, False)
    keys_dropped = sum(max(p + 1 - window, 0) for p in range(seq))
    per_key = 3 * 2 * 2 * model.num_attention_heads * model.head_dim
    assert full - windowed == pytest.approx(per_key * keys_dropped * model.num_layers * batch, rel=1e-12)
    # A window at least as long as the sequence masks nothing.
    assert flops_per_iteration(model, 4096, batch, 4096, False) == flops_per_iteration(model, 4096, batch, None, False)


def test_15b_at_4k_matches_megatron_lm_formula():
    """Megatron-LM's estimate for a GQA transformer with a non-gated MLP (derived here, same terms):

        F = 12 B s L h^2 [ (1 + g/n + s/(2h)) (n d / h) + f/h + V / (2 L h) ]

    12 = 3 passes x 2 FLOPs per multiply-add x 2 (the two GEMMs of each pair: Q/K+V and out;
    scores and context; MLP up and down); logits are 2 B s h V per pass. Its attention term
    counts s/2 keys per query; the exact causal mean is (s+1)/2, so we count half a key more per
    query: 3 x 2 x 2 x (n d) x 1/2 = 6 n d FLOPs per token and layer."""
    m = get_preset("sc2-15b")
    B, s, L, h, n, g, d, f, V = (1024, 4096, m.num_layers, m.hidden_size, m.num_attention_heads,
                                 m.num_query_groups, m.head_dim, m.ffn_hidden_size, m.vocab_size)
    megatron = 12 * B * s * L * h**2 * ((1 + g / n + s / (2 * h)) * (n * d / h) + f / h + V / (2 * L * h))
    ours = flops_per_iteration(m, s, B, None, False)
    assert ours == pytest.approx(megatron + 6 * n * d * B * s * L, rel=1e-12)
    # Sanity against the 6N rule: attention and logits add a few percent to 6 x params x tokens.
    assert 1.0 < ours / (6 * m.num_parameters() * B * s) < 1.1


@pytest.mark.parametrize("name,bf16,expected", [
    ("NVIDIA H100 80GB HBM3", True, 989.4),
    ("NVIDIA H100 PCIe", True, 756.0),
    ("NVIDIA H100 NVL", True, 835.5),
    ("NVIDIA A100-SXM4-80GB", True, 312.0),
    ("NVIDIA A100 80GB PCIe", True, 312.0),
    ("NVIDIA L40S", True, 362.05),
    ("NVIDIA L40", True, 181.05),
    ("NVIDIA L4", True, 121.0),
    ("NVIDIA A10", True, 125.0),
    ("NVIDIA A10G", True, None),
    ("NVIDIA H100 80GB HBM3", False, None),
    ("cpu", False, None),
    ("cpu", True, None),
])
def test_device_peak_table(name, bf16, expected):
    assert device_peak_tflops(name, bf16) == expected
