"""Which fused kernels this machine has, and the TransformerConfig fusion switches that follow.

Several of megatron-core's fusion switches assume TransformerEngine or Apex and fail when the
kernel is missing: RoPE fusion at config time, the persistent LayerNorm when the model is built,
the fused softmax and gradient-accumulation kernels at the first step. Here each switch is on
only on a GPU and only where its kernel imports, so a GPU box with plain PyTorch and megatron-core
trains too; `report` says what is fused and what is not.
"""

from __future__ import annotations

import functools
import importlib
from dataclasses import dataclass


@functools.cache
def import_error(module: str) -> str | None:
    """None when `module` imports; else why not. A package can be found yet fail to load (a
    TransformerEngine built for another torch), so this imports rather than looks."""
    try:
        importlib.import_module(module)
    except Exception as e:  # noqa: BLE001 (ImportError, or OSError/RuntimeError of a broken CUDA extension)
        return f"{type(e).__name__}: {e}".splitlines()[0][:160]
    return None


def importable(module: str) -> bool:
    return import_error(module) is None


@dataclass(frozen=True)
class Fusion:
    switch: str  # the TransformerConfig field
    what: str
    needs: tuple[str, ...]  # modules that must all import; () for megatron-core's own (jit) fusions
    source: str  # who provides the kernel, for the report


FUSIONS = (
    Fusion("bias_activation_fusion", "bias+GELU", (), "megatron-core jit"),
    Fusion("bias_dropout_fusion", "bias+dropout+add", (), "megatron-core jit"),
    Fusion("apply_rope_fusion", "RoPE", ("transformer_engine.pytorch",), "TransformerEngine"),
    Fusion("masked_softmax_fusion", "scale+mask+softmax (local attention)",
           ("scaled_upper_triang_masked_softmax_cuda", "scaled_masked_softmax_cuda"), "Apex"),
    Fusion("persist_layer_norm", "persistent LayerNorm (local spec)", ("apex.contrib.layer_norm.layer_norm",), "Apex"),
    Fusion("gradient_accumulation_fusion", "wgrad accumulation into fp32 main grads",
           ("fused_weight_gradient_mlp_cuda",), "Apex"),
)


def fusion_switches(*, on_gpu: bool, sliding_window: bool) -> dict[str, bool]:
    """TransformerConfig fusion fields: on where the GPU kernel exists and gives the same model.

    megatron-core's fused causal softmax ignores the window (it masks the upper triangle only),
    so with a sliding window the local spec keeps the unfused softmax, which applies it.
    """
    switches = {f.switch: on_gpu and all(map(importable, f.needs)) for f in FUSIONS}
    switches["masked_softmax_fusion"] &= not sliding_window
    return switches


def report(switches: dict[str, bool], *, sliding_window: bool) -> str:
    """One line: what is fused, and what is not and why."""
    fused, unfused = [], []
    for f in FUSIONS:
        if switches[f.switch]:
            fused.append(f"{f.what} ({f.source})")
            continue
        missing = [m for m in f.needs if not importable(m)]
        if missing:
            why = f"{f.source} kernel {missing[0]} not importable"
        elif f.switch == "masked_softmax_fusion" and sliding_window:
            why = "the fused kernel ignores the sliding window"
        else:
            why = "no GPU"
        unfused.append(f"{f.what} [{why}]")
    return f"fused: {', '.join(fused) or 'nothing'}; not fused: {', '.join(unfused) or 'nothing'}"
