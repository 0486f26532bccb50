"""The HF Starcoder2ForCausalLM <-> megatron-core GPTModel mapping, as one declarative table.

Megatron names are the global dist-checkpoint keys (layout-independent, docs/starcoder2.md).
Both megatron-core layer specs store the LayerNorms under the TE-fused names
(`linear_qkv.layer_norm_weight`, ...): the local spec maps its `input_layernorm` and
`pre_mlp_layernorm` to them when it builds its sharded state dict. The local names are kept as
read aliases for state dicts written without that mapping.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import torch

from megatron_sc2.config import ModelConfig


class Transform(Enum):
    COPY = "copy"  # same tensor on both sides
    QKV = "qkv"  # one fused megatron tensor <-> HF q, k, v (grouped GQA layout, §7.2)
    VOCAB = "vocab"  # megatron rows are padded to the TP-aligned vocab size; HF rows are not


@dataclass(frozen=True)
class Rule:
    megatron: str
    hf: tuple[str, ...]
    transform: Transform = Transform.COPY
    megatron_aliases: tuple[str, ...] = ()


# Per layer: megatron `decoder.layers.{i}.<megatron>` <-> HF `model.layers.{i}.<hf>`.
LAYER_RULES = (
    Rule("self_attention.linear_qkv.layer_norm_weight", ("input_layernorm.weight",),
         megatron_aliases=("input_layernorm.weight",)),
    Rule("self_attention.linear_qkv.layer_norm_bias", ("input_layernorm.bias",),
         megatron_aliases=("input_layernorm.bias",)),
    Rule("self_attention.linear_qkv.weight",
         ("self_attn.q_proj.weight", "self_attn.k_proj.weight", "self_attn.v_proj.weight"), Transform.QKV),
    Rule("self_attention.linear_qkv.bias",
         ("self_attn.q_proj.bias", "self_attn.k_proj.bias", "self_attn.v_proj.bias"), Transform.QKV),
    Rule("self_attention.linear_proj.weight", ("self_attn.o_proj.weight",)),
    Rule("self_attention.linear_proj.bias", ("self_attn.o_proj.bias",)),
    Rule("mlp.linear_fc1.layer_norm_weight", ("post_attention_layernorm.weight",),
         megatron_aliases=("pre_mlp_layernorm.weight",)),
    Rule("mlp.linear_fc1.layer_norm_bias", ("post_attention_layernorm.bias",),
         megatron_aliases=("pre_mlp_layernorm.bias",)),
    Rule("mlp.linear_fc1.weight", ("mlp.c_fc.weight",)),
    Rule("mlp.linear_fc1.bias", ("mlp.c_fc.bias",)),
    Rule("mlp.linear_fc2.weight", ("mlp.c_proj.weight",)),
    Rule("mlp.linear_fc2.bias", ("mlp.c_proj.bias",)),
)

# Modules of a layer that carry a megatron-core `_extra_state` object in the checkpoint.
EXTRA_STATE_MODULES = (
    "self_attention.linear_qkv", "self_attention.linear_proj", "mlp.linear_fc1", "mlp.linear_fc2",
)

EMBEDDING = Rule("embedding.word_embeddings.weight", ("model.embed_tokens.weight",), Transform.VOCAB)
FINAL_NORM = (
    Rule("decoder.final_layernorm.weight", ("model.norm.weight",)),
    Rule("decoder.final_layernorm.bias", ("model.norm.bias",)),
)
OUTPUT = Rule("output_layer.weight", ("lm_head.weight",), Transform.VOCAB)


@dataclass(frozen=True)
class Param:
    """One rule applied to one layer (or to no layer): concrete names on both sides."""

    megatron: str
    hf: tuple[str, ...]
    transform: Transform
    layer: int | None
    megatron_aliases: tuple[str, ...] = ()


def params(model: ModelConfig) -> Iterator[Param]:
    """Every parameter of the model, in HF's order."""
    yield _concrete(EMBEDDING, None)
    for layer in range(model.num_layers):
        for rule in LAYER_RULES:
            yield _concrete(rule, layer)
    yield from (_concrete(rule, None) for rule in FINAL_NORM)
    if not model.tie_embeddings:
        yield _concrete(OUTPUT, None)


def _concrete(rule: Rule, layer: int | None) -> Param:
    if layer is None:
        return Param(rule.megatron, rule.hf, rule.transform, None)
    return Param(
        f"decoder.layers.{layer}.{rule.megatron}",
        tuple(f"model.layers.{layer}.{name}" for name in rule.hf),
        rule.transform,
        layer,
        tuple(f"decoder.layers.{layer}.{name}" for name in rule.megatron_aliases),
    )


def hf_shapes(model: ModelConfig) -> dict[str, tuple[int, ...]]:
    """The shape of every HF tensor, from the architecture alone."""
    h, f, d = model.hidden_size, model.ffn_hidden_size, model.head_dim
    q, kv = model.num_attention_heads * d, model.num_query_groups * d
    per_layer = {
        "input_layernorm.weight": (h,), "input_layernorm.bias": (h,),
        "self_attn.q_proj.weight": (q, h), "self_attn.q_proj.bias": (q,),
        "self_attn.k_proj.weight": (kv, h), "self_attn.k_proj.bias": (kv,),
        "self_attn.v_proj.weight": (kv, h), "self_attn.v_proj.bias": (kv,),
        "self_attn.o_proj.weight": (h, q), "self_attn.o_proj.bias": (h,),
        "post_attention_layernorm.weight": (h,), "post_attention_layernorm.bias": (h,),
        "mlp.c_fc.weight": (f, h), "mlp.c_fc.bias": (f,),
        "mlp.c_proj.weight": (h, f), "mlp.c_proj.bias": (h,),
    }
    shapes = {"model.embed_tokens.weight": (model.vocab_size, h)}
    for layer in range(model.num_layers):
        shapes.update({f"model.layers.{layer}.{name}": shape for name, shape in per_layer.items()})
    shapes.update({"model.norm.weight": (h,), "model.norm.bias": (h,)})
    if not model.tie_embeddings:
        shapes["lm_head.weight"] = (model.vocab_size, h)
    return shapes


def megatron_shape(param: Param, model: ModelConfig, padded_vocab_size: int) -> tuple[int, ...]:
    shapes = hf_shapes(model)
    first = shapes[param.hf[0]]
    if param.transform is Transform.QKV:
        return (sum(shapes[name][0] for name in param.hf), *first[1:])
    if param.transform is Transform.VOCAB:
        return (padded_vocab_size, *first[1:])
    return first


def _qkv_dims(model: ModelConfig) -> tuple[int, int, int]:
    groups = model.num_query_groups
    return groups, model.num_attention_heads // groups, model.head_dim


def merge_qkv(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, model: ModelConfig) -> torch.Tensor:
    """HF q/k/v -> megatron's fused rows: per KV group, its query heads, then its K head, then its V head."""
    groups, per_group, d = _qkv_dims(model)
    rest = q.shape[1:]
    grouped = torch.cat(
        [q.reshape(groups, per_group * d, *rest), k.reshape(groups, d, *rest), v.reshape(groups, d, *rest)],
        dim=1,
    )
    return grouped.reshape(groups * (per_group + 2) * d, *rest)


def split_qkv(fused: torch.Tensor, model: ModelConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The inverse of `merge_qkv`."""
    groups, per_group, d = _qkv_dims(model)
    rest = fused.shape[1:]
    q, k, v = fused.reshape(groups, (per_group + 2) * d, *rest).split([per_group * d, d, d], dim=1)
    return (
        q.reshape(groups * per_group * d, *rest).contiguous(),
        k.reshape(groups * d, *rest).contiguous(),
        v.reshape(groups * d, *rest).contiguous(),
    )


def pad_vocab(weight: torch.Tensor, padded_vocab_size: int) -> torch.Tensor:
    """Megatron's extra embedding rows: zeros (they never receive a real token)."""
    if padded_vocab_size == weight.shape[0]:
        return weight
    padding = weight.new_zeros(padded_vocab_size - weight.shape[0], *weight.shape[1:])
    return torch.cat([weight, padding])
