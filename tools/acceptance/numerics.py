"""Numerics: the same sc2-tiny weights give the same logits on this device as on the CPU (fp32, local
spec), bf16 stays within bf16 tolerance, and TransformerEngine's spec equals the local one.

The model has GQA (8 query heads, 2 KV groups), RoPE, and a sliding window the sequence exceeds, so
each of them shows in the logits. The CPU reference runs in a subprocess that cannot see a GPU; it
writes a checkpoint through the trainer's checkpointing, which every variant here loads.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

from megatron_sc2 import runtime
from megatron_sc2.checkpoint import resolve
from megatron_sc2.config import ModelConfig, ParallelConfig, get_preset
from megatron_sc2.model import build_model, layer_spec, to_transformer_config, transformer_engine_available
from megatron_sc2.training import checkpointing

MODEL = get_preset("sc2-tiny").replace(sliding_window=16, max_position_embeddings=64)
BATCH, SEQ = 2, MODEL.max_position_embeddings
FP32_TOLERANCE = 1e-4  # max |difference| over max |logit|: reduction order, TF32 off
BF16_TOLERANCE = 3e-2  # bf16 keeps 8 mantissa bits: ~4e-3 per rounding, over 4 layers


def build(model: ModelConfig = MODEL, *, bf16: bool, transformer_engine: bool) -> torch.nn.Module:
    config = to_transformer_config(model, ParallelConfig(), bf16=bf16)
    (chunk,) = build_model(model, config, max_sequence_length=model.max_position_embeddings,
                           spec=layer_spec(transformer_engine))
    return chunk.eval()


def logits(chunk: torch.nn.Module, tokens: torch.Tensor) -> torch.Tensor:
    device = runtime.device()
    positions = torch.arange(tokens.shape[1], device=device).expand_as(tokens)
    with torch.no_grad():
        return chunk(tokens.to(device), positions, attention_mask=None).float().cpu()


def fill_seeded(chunk: torch.nn.Module) -> None:
    """Every parameter random (LayerNorm weights around 1, biases nonzero), so each mapping shows."""
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, param in sorted(chunk.named_parameters()):
            values = torch.randn(param.shape, generator=generator) * 0.1
            param.copy_(values + 1.0 if name.endswith(("layernorm.weight", "layer_norm_weight")) else values)


def write_cpu_reference(folder: Path) -> None:
    """In a process without CUDA: seeded weights -> checkpoint, and their logits on fixed tokens."""
    runtime.initialize(ParallelConfig())
    chunk = build(bf16=False, transformer_engine=False)
    fill_seeded(chunk)
    checkpointing.save(folder / "ckpt", 1, [chunk], None, common={}, model_config=MODEL, parallel=ParallelConfig(),
                       model_only=True)
    tokens = torch.randint(0, MODEL.vocab_size, (BATCH, SEQ), generator=torch.Generator().manual_seed(1))
    torch.save({"tokens": tokens, "logits": logits(chunk, tokens)}, folder / "cpu_reference.pt")
    runtime.destroy()


def load_model(checkpoint: Path, *, bf16: bool, transformer_engine: bool) -> torch.nn.Module:
    """The model of a checkpoint (the latest in that folder) through the trainer's loading, TP1."""
    directory, meta = resolve(checkpoint)
    model = ModelConfig.from_dict(meta["model"])
    chunk = build(model, bf16=bf16, transformer_engine=transformer_engine)
    checkpointing.load(directory, meta, [chunk], None, model_config=model, parallel=ParallelConfig(),
                       load_optimizer=False)
    return chunk


def child_environment() -> dict:
    """This process's environment without the rendezvous it exported for itself."""
    own = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
    return {k: v for k, v in os.environ.items() if k not in own}


def relative_difference(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def run(section, workdir: Path, script: Path) -> None:
    env = {**child_environment(), "CUDA_VISIBLE_DEVICES": ""}
    subprocess.run([sys.executable, str(script), "--cpu-reference", str(workdir)], check=True, env=env)
    reference = torch.load(workdir / "cpu_reference.pt")
    tokens, expected = reference["tokens"], reference["logits"]
    device = "GPU" if torch.cuda.is_available() else "CPU (--cpu: the device is the CPU)"
    got = {}
    for name, bf16, te in [("local fp32", False, False), ("local bf16", True, False),
                           ("TE fp32", False, True), ("TE bf16", True, True)]:
        if te and not transformer_engine_available():
            section.skip(f"{name} logits", "TransformerEngine is not installed (or no GPU)")
            continue
        got[name] = logits(load_model(workdir / "ckpt", bf16=bf16, transformer_engine=te), tokens)

    diff = relative_difference(got["local fp32"], expected)
    section.figures["fp32_local_vs_cpu"] = diff
    section.check(f"fp32 local spec on {device} = CPU", diff <= FP32_TOLERANCE, f"{diff:.2e} <= {FP32_TOLERANCE:g}")
    diff = relative_difference(got["local bf16"], expected)
    section.figures["bf16_local_vs_cpu_fp32"] = diff
    section.check("bf16 local spec within bf16 tolerance of fp32", diff <= BF16_TOLERANCE,
                  f"{diff:.2e} <= {BF16_TOLERANCE:g}")
    for precision, tolerance in (("fp32", FP32_TOLERANCE), ("bf16", BF16_TOLERANCE)):
        if f"TE {precision}" in got:
            diff = relative_difference(got[f"TE {precision}"], got[f"local {precision}"])
            section.figures[f"{precision}_te_vs_local"] = diff
            section.check(f"TE spec = local spec, {precision} (GQA, window {MODEL.sliding_window}, RoPE)",
                          diff <= tolerance, f"{diff:.2e} <= {tolerance:g}")
