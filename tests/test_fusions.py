"""Fusion switches follow the kernels that import: a GPU box without TransformerEngine or Apex
gets a config megatron-core accepts, and the log says what is fused and what is not."""

import pytest
import torch

from megatron_sc2.config import ParallelConfig, get_preset
from megatron_sc2.model import fusions, to_transformer_config

KERNEL_SWITCHES = ("apply_rope_fusion", "masked_softmax_fusion", "persist_layer_norm", "gradient_accumulation_fusion")


@pytest.fixture
def gpu_without_te_or_apex(monkeypatch):
    """This CPU machine seen as a GPU box with plain PyTorch + megatron-core (the real import check)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert not fusions.importable("transformer_engine.pytorch") and not fusions.importable("fused_weight_gradient_mlp_cuda")


def test_without_te_or_apex_megatron_core_accepts_the_gpu_config(gpu_without_te_or_apex):
    from megatron.core.transformer.torch_norm import WrappedTorchNorm

    config = to_transformer_config(get_preset("sc2-tiny"), ParallelConfig(), bf16=True)
    assert config.bias_activation_fusion and config.bias_dropout_fusion  # megatron-core's own jit kernels
    assert not any(getattr(config, s) for s in KERNEL_SWITCHES)
    WrappedTorchNorm(config, 64)  # the local spec's LayerNorm without Apex refuses persist_layer_norm


def test_every_kernel_switch_is_on_where_its_kernels_import(monkeypatch):
    monkeypatch.setattr(fusions, "importable", lambda module: True)
    switches = fusions.fusion_switches(on_gpu=True, sliding_window=False)
    assert all(switches.values()) and set(switches) >= set(KERNEL_SWITCHES)
    assert not fusions.fusion_switches(on_gpu=False, sliding_window=False)["apply_rope_fusion"]


def test_the_fused_softmax_stays_off_with_a_sliding_window(monkeypatch):
    monkeypatch.setattr(fusions, "importable", lambda module: True)
    switches = fusions.fusion_switches(on_gpu=True, sliding_window=True)
    assert not switches["masked_softmax_fusion"] and switches["apply_rope_fusion"]
    assert "the fused kernel ignores the sliding window" in fusions.report(switches, sliding_window=True)


def test_only_the_missing_package_turns_its_switches_off(monkeypatch):
    monkeypatch.setattr(fusions, "importable", lambda module: not module.startswith("transformer_engine"))
    switches = fusions.fusion_switches(on_gpu=True, sliding_window=False)
    assert not switches["apply_rope_fusion"]
    assert switches["persist_layer_norm"] and switches["gradient_accumulation_fusion"]


def test_report_names_what_is_fused_and_what_is_missing(gpu_without_te_or_apex):
    line = fusions.report(fusions.fusion_switches(on_gpu=True, sliding_window=False), sliding_window=False)
    assert line.startswith("fused: bias+GELU (megatron-core jit), bias+dropout+add (megatron-core jit); not fused:")
    assert "RoPE [TransformerEngine kernel transformer_engine.pytorch not importable]" in line
    assert "wgrad accumulation into fp32 main grads [Apex kernel fused_weight_gradient_mlp_cuda not importable]" in line
    assert "no GPU" in fusions.report(fusions.fusion_switches(on_gpu=False, sliding_window=False),
                                      sliding_window=False)


def test_a_package_that_is_found_but_fails_to_load_counts_as_absent(tmp_path, monkeypatch):
    (tmp_path / "broken_kernels.py").write_text("raise OSError('libcudart.so.12: cannot open shared object file')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert not fusions.importable("broken_kernels")
    assert "OSError: libcudart.so.12" in fusions.import_error("broken_kernels")
