"""StarCoder2 architecture presets and the parallel layout, as plain dataclasses.

Nothing here imports torch or megatron-core, so tools (data, conversion) can read a
configuration cheaply. `megatron_sc2.model` turns a `ModelConfig` into megatron-core's
`TransformerConfig`.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ModelConfig:
    """The architecture of one StarCoder2 model (docs/starcoder2.md).

    `sliding_window` follows Hugging Face's convention: a token attends to itself and the
    `sliding_window - 1` tokens before it. None means full causal attention.
    """

    num_layers: int
    hidden_size: int
    num_attention_heads: int
    num_query_groups: int
    ffn_hidden_size: int
    vocab_size: int = 49152
    rotary_base: float = 100_000.0
    sliding_window: int | None = None
    tie_embeddings: bool = True
    init_method_std: float = 0.02
    layernorm_epsilon: float = 1e-5
    max_position_embeddings: int = 16384
    hidden_dropout: float = 0.0
    attention_dropout: float = 0.0
    make_vocab_size_divisible_by: int = 128

    def __post_init__(self):
        problems = []
        if self.hidden_size % self.num_attention_heads:
            problems.append(
                f"hidden_size {self.hidden_size} is not a multiple of num_attention_heads "
                f"{self.num_attention_heads}"
            )
        if self.num_attention_heads % self.num_query_groups:
            problems.append(
                f"num_attention_heads {self.num_attention_heads} is not a multiple of "
                f"num_query_groups {self.num_query_groups}"
            )
        if self.sliding_window is not None and self.sliding_window < 1:
            problems.append(f"sliding_window must be >= 1 or None, got {self.sliding_window}")
        if problems:
            raise ValueError("invalid model config: " + "; ".join(problems))

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    def padded_vocab_size(self, tensor_parallel_size: int) -> int:
        """Megatron pads the embedding so each tensor-parallel shard has an aligned size."""
        multiple = self.make_vocab_size_divisible_by * tensor_parallel_size
        return -(-self.vocab_size // multiple) * multiple

    def num_parameters(self) -> int:
        """Parameter count without vocab padding (the count HF reports)."""
        h, f, layers = self.hidden_size, self.ffn_hidden_size, self.num_layers
        qkv_out = (self.num_attention_heads + 2 * self.num_query_groups) * self.head_dim
        per_layer = (
            2 * 2 * h  # two LayerNorms, weight and bias
            + h * qkv_out + qkv_out  # fused QKV with bias
            + h * h + h  # attention output projection
            + h * f + f + f * h + h  # MLP
        )
        embeddings = self.vocab_size * h * (1 if self.tie_embeddings else 2)
        return layers * per_layer + embeddings + 2 * h

    def replace(self, **changes) -> ModelConfig:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Build from a mapping; `preset: NAME` starts from a preset, other keys override it."""
        values = dict(values)
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - known - {"preset"}
        if unknown:
            raise ValueError(f"unknown model config keys: {sorted(unknown)}; known: {sorted(known)}")
        preset = values.pop("preset", None)
        if preset is not None:
            return get_preset(preset).replace(**values)
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> ModelConfig:
        """Read a custom size from a YAML or JSON file."""
        return cls.from_dict(read_model_file(path))


def read_model_file(path: str | Path) -> dict:
    """The mapping of a model YAML or JSON file."""
    path = Path(path)
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        values = yaml.safe_load(text)
    else:
        values = json.loads(text)
    if not isinstance(values, dict):
        raise TypeError(f"{path}: expected a mapping of model config keys")
    return values


# Released StarCoder2 architectures (docs/starcoder2.md). rotary_base and
# sliding_window are the released long-context values; training stages override them.
PRESETS: dict[str, ModelConfig] = {
    "sc2-3b": ModelConfig(
        num_layers=30, hidden_size=3072, num_attention_heads=24, num_query_groups=2,
        ffn_hidden_size=12288, rotary_base=999999.4420358813, sliding_window=4096,
        tie_embeddings=True, init_method_std=0.018042,
    ),
    "sc2-7b": ModelConfig(
        num_layers=32, hidden_size=4608, num_attention_heads=36, num_query_groups=4,
        ffn_hidden_size=18432, rotary_base=1_000_000.0, sliding_window=4096,
        tie_embeddings=True, init_method_std=0.018042,
    ),
    "sc2-15b": ModelConfig(
        num_layers=40, hidden_size=6144, num_attention_heads=48, num_query_groups=4,
        ffn_hidden_size=24576, rotary_base=100_000.0, sliding_window=4096,
        tie_embeddings=False, init_method_std=0.01275,
    ),
    # Test and CPU sizes: GQA with 4 query heads per group, TP up to 2, PP up to 4.
    "sc2-tiny": ModelConfig(
        num_layers=4, hidden_size=64, num_attention_heads=8, num_query_groups=2,
        ffn_hidden_size=256, vocab_size=1024, rotary_base=10_000.0,
        max_position_embeddings=512, tie_embeddings=True,
    ),
    "sc2-tiny-untied": ModelConfig(
        num_layers=4, hidden_size=64, num_attention_heads=8, num_query_groups=2,
        ffn_hidden_size=256, vocab_size=1024, rotary_base=10_000.0,
        max_position_embeddings=512, tie_embeddings=False,
    ),
    "sc2-mini": ModelConfig(
        num_layers=4, hidden_size=256, num_attention_heads=8, num_query_groups=2,
        ffn_hidden_size=1024, vocab_size=8192, rotary_base=10_000.0,
        max_position_embeddings=2048, tie_embeddings=True,
    ),
}


def get_preset(name: str) -> ModelConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown model preset {name!r}; choose one of {sorted(PRESETS)}") from None


def load_model_config(name_or_path: str) -> ModelConfig:
    """A preset name, or the path of a YAML/JSON file describing a custom size."""
    if name_or_path in PRESETS:
        return PRESETS[name_or_path]
    if Path(name_or_path).is_file():
        return ModelConfig.from_file(name_or_path)
    raise ValueError(
        f"--model {name_or_path!r} is neither a preset ({', '.join(sorted(PRESETS))}) nor a config file"
    )


@dataclass(frozen=True)
class ParallelConfig:
    """The TP x PP x DP layout; DP is whatever the world size leaves."""

    tensor_model_parallel_size: int = 1
    pipeline_model_parallel_size: int = 1
    virtual_pipeline_model_parallel_size: int | None = None
    use_distributed_optimizer: bool = False
    sequence_parallel: bool = False

    def data_parallel_size(self, world_size: int) -> int:
        model_parallel = self.tensor_model_parallel_size * self.pipeline_model_parallel_size
        if world_size % model_parallel:
            raise ValueError(
                f"world size {world_size} is not divisible by tensor x pipeline parallel size "
                f"{self.tensor_model_parallel_size} x {self.pipeline_model_parallel_size}; "
                f"launch a multiple of {model_parallel} processes or change the layout"
            )
        return world_size // model_parallel

    def validate_for(self, model: ModelConfig) -> None:
        """Fail early, saying what to change, on a layout the model cannot take."""
        problems = self.layout_problems(model)
        if problems:
            raise ValueError("invalid parallel layout: " + "; ".join(problems))

    def layout_problems(self, model: ModelConfig) -> list[str]:
        """What the model cannot take of this layout, one line each."""
        tp, pp, vpp = (
            self.tensor_model_parallel_size,
            self.pipeline_model_parallel_size,
            self.virtual_pipeline_model_parallel_size,
        )
        problems = []
        if tp < 1 or pp < 1:
            problems.append("tensor and pipeline parallel sizes must be >= 1")
        elif model.num_query_groups % tp:
            problems.append(
                f"--tensor-model-parallel-size {tp} must divide the {model.num_query_groups} KV groups "
                f"(num_query_groups); use one of {_divisors(model.num_query_groups)}"
            )
        elif model.num_attention_heads % tp:
            problems.append(
                f"--tensor-model-parallel-size {tp} must divide num_attention_heads "
                f"{model.num_attention_heads}"
            )
        elif model.ffn_hidden_size % tp:
            problems.append(f"--tensor-model-parallel-size {tp} must divide ffn_hidden_size {model.ffn_hidden_size}")
        stages = pp * (vpp or 1)
        if pp >= 1 and model.num_layers % stages:
            problems.append(
                f"{model.num_layers} layers cannot be split evenly into {pp} pipeline stages"
                + (f" x {vpp} virtual stages" if vpp else "")
                + f"; use a pipeline size (times virtual stages) among {_divisors(model.num_layers)}"
            )
        if vpp is not None and (vpp < 2 or pp < 2):
            problems.append("virtual pipeline stages need --pipeline-model-parallel-size >= 2 and at least 2 chunks")
        return problems


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]
