"""The Hugging Face side: config.json <-> ModelConfig, streaming safetensors shards, tokenizer files.

Only JSON and safetensors are ever read from a HF folder, so converting an untrusted folder runs
no code from it.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import typing
from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from megatron_sc2.config import ModelConfig

DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
_SAFETENSORS_DTYPES = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}
_HF_DTYPE_NAMES = {torch.float32: "float32", torch.bfloat16: "bfloat16", torch.float16: "float16"}

# ModelConfig field <-> Starcoder2Config key, for the values that map one to one.
CONFIG_FIELDS = (
    ("num_layers", "num_hidden_layers"),
    ("hidden_size", "hidden_size"),
    ("num_attention_heads", "num_attention_heads"),
    ("num_query_groups", "num_key_value_heads"),
    ("ffn_hidden_size", "intermediate_size"),
    ("vocab_size", "vocab_size"),
    ("sliding_window", "sliding_window"),
    ("tie_embeddings", "tie_word_embeddings"),
    ("init_method_std", "initializer_range"),
    ("layernorm_epsilon", "norm_epsilon"),
    ("max_position_embeddings", "max_position_embeddings"),
    ("hidden_dropout", "residual_dropout"),
    ("attention_dropout", "attention_dropout"),
)
# What our model always is; an HF config saying otherwise describes a model we cannot hold.
FIXED_HF_VALUES = {"model_type": "starcoder2", "hidden_act": "gelu_pytorch_tanh", "use_bias": True}

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
TOKENIZER_FILE = "tokenizer.json"


logger = logging.getLogger(__name__)


class ConversionError(Exception):
    """Bad input: the message names the file, key or tensor at fault."""


# ---- config -------------------------------------------------------------------------------------

def hf_config(model: ModelConfig, dtype: torch.dtype, eod_id: int) -> dict:
    config = {hf: getattr(model, field) for field, hf in CONFIG_FIELDS}
    config.update(FIXED_HF_VALUES)
    config.update(
        architectures=["Starcoder2ForCausalLM"],
        embedding_dropout=model.hidden_dropout,  # megatron applies hidden_dropout to embeddings too
        rope_theta=model.rotary_base,  # read by transformers 4.x and most inference engines
        rope_parameters={"rope_type": "default", "rope_theta": model.rotary_base},
        bos_token_id=eod_id,
        eos_token_id=eod_id,
        torch_dtype=_HF_DTYPE_NAMES[dtype],
        use_cache=True,
    )
    return dict(sorted(config.items()))


def model_config_from_hf(folder: Path) -> ModelConfig:
    path = folder / "config.json"
    if not path.is_file():
        raise ConversionError(f"{folder} has no config.json: not a Hugging Face model folder")
    try:
        raw = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConversionError(f"{path}: not valid JSON ({e})") from None
    if raw.get("model_type") != "starcoder2":
        raise ConversionError(
            f"{path}: model_type is {raw.get('model_type')!r}, expected 'starcoder2' "
            f"(architectures: {raw.get('architectures')})"
        )
    _check_value_types(raw, path)
    from transformers import Starcoder2Config

    try:
        config = Starcoder2Config.from_dict(raw)
    except Exception as e:  # noqa: BLE001 (transformers raises by version: TypeError, ValueError, hub errors)
        raise ConversionError(f"{path}: {' '.join(str(e).split())}") from None
    for key, expected in FIXED_HF_VALUES.items():
        if getattr(config, key) != expected:
            raise ConversionError(f"{path}: {key} is {getattr(config, key)!r}; StarCoder2 models use {expected!r}")
    rope = config.rope_parameters or {}
    if rope.get("rope_type", "default") != "default":
        raise ConversionError(f"{path}: rope scaling {rope} is not supported (plain RoPE only)")
    values = {field: getattr(config, hf) for field, hf in CONFIG_FIELDS}
    try:
        return ModelConfig(rotary_base=float(rope["rope_theta"]), **values)
    except (KeyError, ValueError) as e:
        raise ConversionError(f"{path}: {e}") from None


def _check_value_types(raw: dict, path: Path) -> None:
    """Wrong-typed values of the fields we read, named in one line whatever the transformers version
    (older ones pass any type through)."""
    hints = typing.get_type_hints(ModelConfig)
    for field, hf in CONFIG_FIELDS:
        if hf not in raw:
            continue
        expected = [type(None) if t is None else t for t in (typing.get_args(hints[field]) or (hints[field],))]
        value = raw[hf]
        accepted = tuple(expected) + ((int,) if float in expected else ())
        if not isinstance(value, accepted) or (isinstance(value, bool) and bool not in expected):
            names = " or ".join("null" if t is type(None) else t.__name__ for t in expected)
            raise ConversionError(f"{path}: {hf} is {value!r}, expected {names}")


def write_json(path: Path, values: dict) -> None:
    path.write_text(json.dumps(values, indent=2) + "\n")


def write_generation_config(folder: Path, eod_id: int) -> None:
    write_json(folder / "generation_config.json", {"bos_token_id": eod_id, "eos_token_id": eod_id})


def write_tokenizer(folder: Path, tokenizer_model: Path) -> int:
    """Write the HF tokenizer files for a `tokenizer.json` (or a folder holding one); return the EOD id."""
    from transformers import PreTrainedTokenizerFast

    from megatron_sc2.data.special_tokens import EOD

    file = tokenizer_model / TOKENIZER_FILE if tokenizer_model.is_dir() else tokenizer_model
    if not file.is_file() or file.suffix != ".json":
        raise ConversionError(
            f"--tokenizer-model {tokenizer_model}: expected a Hugging Face tokenizer.json or a folder with one"
        )
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=str(file), bos_token=EOD, eos_token=EOD, unk_token=EOD)
    if tokenizer.convert_tokens_to_ids(EOD) is None:
        raise ConversionError(f"{file}: the tokenizer has no {EOD} token")
    tokenizer.save_pretrained(folder)
    return tokenizer.convert_tokens_to_ids(EOD)


# ---- writing safetensors shards ------------------------------------------------------------------

def parse_size(text: str) -> int:
    """'5GB' -> 5 * 10**9 (HF's convention), '500MiB' -> 500 * 2**20."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?i?B)\s*", text, re.IGNORECASE)
    if not match:
        raise ValueError(f"cannot parse size {text!r}; use e.g. 5GB or 500MB")
    number, unit = float(match.group(1)), match.group(2).upper()
    base = 1024 if "I" in unit else 1000
    return int(number * base ** "BKMGT".index(unit[0]))


@dataclass(frozen=True)
class TensorSpec:
    name: str
    shape: tuple[int, ...]
    dtype: torch.dtype

    @property
    def nbytes(self) -> int:
        return torch.Size(self.shape).numel() * torch.empty((), dtype=self.dtype).element_size()


def plan_shards(specs: Iterable[TensorSpec], max_shard_bytes: int) -> list[list[TensorSpec]]:
    """Consecutive tensors grouped into shards of at most `max_shard_bytes` (a larger tensor goes alone)."""
    shards: list[list[TensorSpec]] = [[]]
    size = 0
    for spec in specs:
        if shards[-1] and size + spec.nbytes > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(spec)
        size += spec.nbytes
    return shards


def shard_file_names(num_shards: int) -> list[str]:
    if num_shards == 1:
        return [SINGLE_FILE]
    return [f"model-{i + 1:05d}-of-{num_shards:05d}.safetensors" for i in range(num_shards)]


def write_safetensors(path: Path, specs: list[TensorSpec], produce: Callable[[TensorSpec], torch.Tensor]) -> None:
    """A safetensors file written tensor by tensor: the header comes from the specs, so only one
    tensor is ever in memory."""
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for spec in specs:
        header[spec.name] = {
            "dtype": _SAFETENSORS_DTYPES[spec.dtype], "shape": list(spec.shape),
            "data_offsets": [offset, offset + spec.nbytes],
        }
        offset += spec.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(encoded)))
        f.write(encoded)
        for spec in specs:
            tensor = produce(spec)
            if tuple(tensor.shape) != spec.shape:
                raise ConversionError(f"{spec.name}: produced shape {tuple(tensor.shape)}, expected {spec.shape}")
            f.write(tensor.to(spec.dtype).contiguous().view(torch.uint8).numpy().data)


def write_index(folder: Path, shards: list[list[TensorSpec]], names: list[str]) -> None:
    if len(shards) == 1:
        return
    weight_map = {spec.name: name for shard, name in zip(shards, names) for spec in shard}
    total = sum(spec.nbytes for shard in shards for spec in shard)
    write_json(folder / INDEX_FILE, {"metadata": {"total_size": total}, "weight_map": weight_map})


# ---- reading an HF folder ------------------------------------------------------------------------

class HFReader:
    """The tensors of an HF folder (`model.safetensors` or an index with shards), read one at a time."""

    def __init__(self, folder: Path):
        self.folder = folder
        index = folder / INDEX_FILE
        if index.is_file():
            try:
                self.weight_map = json.loads(index.read_text())["weight_map"]
            except (json.JSONDecodeError, KeyError) as e:
                raise ConversionError(f"{index}: not a safetensors index ({e})") from None
        elif (folder / SINGLE_FILE).is_file():
            with _safe_open(folder / SINGLE_FILE) as f:
                self.weight_map = dict.fromkeys(f.keys(), SINGLE_FILE)
        else:
            others = sorted(p.name for p in folder.glob("*.bin")) + sorted(p.name for p in folder.glob("*.pt"))
            raise ConversionError(
                f"{folder} has neither {SINGLE_FILE} nor {INDEX_FILE}"
                + (f"; pickle weights ({', '.join(others)}) are refused: they can run code" if others else "")
            )

    def shape(self, name: str) -> tuple[int, ...]:
        with self._open(name) as f:
            return tuple(f.get_slice(name).get_shape())

    def dtype(self, name: str) -> torch.dtype:
        with self._open(name) as f:
            stored = f.get_slice(name).get_dtype()
        dtypes = {code: dtype for dtype, code in _SAFETENSORS_DTYPES.items()}
        if stored not in dtypes:
            raise ConversionError(f"{self.folder}: tensor {name} has dtype {stored}; expected one of {sorted(dtypes)}")
        return dtypes[stored]

    def get(self, name: str) -> torch.Tensor:
        with self._open(name) as f:
            return f.get_tensor(name)

    @contextmanager
    def _open(self, name: str):
        """The file holding `name`, mapped only while it is read: a mapping kept open would keep
        every page read so far resident, the whole model by the end."""
        if name not in self.weight_map:
            raise ConversionError(f"{self.folder}: tensor {name} is missing")
        path = self.folder / self.weight_map[name]
        if not path.is_file():
            raise ConversionError(f"{path} (holding {name}) is missing")
        with _safe_open(path) as f:
            if name not in f.keys():  # noqa: SIM118 (a safetensors handle, not a dict)
                raise ConversionError(f"{path}: tensor {name} is missing")
            yield f


@contextmanager
def _safe_open(path: Path):
    """A safetensors file; one that is truncated or not safetensors is named (the library's error does not)."""
    from safetensors import SafetensorError, safe_open

    try:
        handle = safe_open(path, framework="pt")
    except SafetensorError as e:
        raise ConversionError(f"{path}: not a readable safetensors file ({e}); copy or export it again") from None
    with handle as f:
        yield f


# ---- non-finite weights --------------------------------------------------------------------------

class NonFiniteCheck:
    """Tensors holding NaN or Inf, noted as they stream by: a diverged or corrupt model is refused,
    after all of them are named, unless allowed."""

    CHUNK = 1 << 24  # elements per count: keeps the temporary mask small

    def __init__(self, source: Path, allow: bool):
        self.source, self.allow = source, allow
        self.found: dict[str, int] = {}

    def __call__(self, name: str, tensor: torch.Tensor) -> None:
        low, high = torch.aminmax(tensor)  # NaN propagates, Inf shows: one pass, no temporary tensor
        if not bool(torch.isfinite(low) & torch.isfinite(high)):
            chunks = tensor.reshape(-1).split(self.CHUNK)
            self.found[name] = sum(int((~torch.isfinite(chunk)).sum()) for chunk in chunks)

    def finish(self) -> str | None:
        """Raise if non-finite tensors were found and not allowed; else the warning to report, if any."""
        if not self.found:
            return None
        listed = ", ".join(f"{name} ({count:,})" for name, count in list(self.found.items())[:5])
        more = f" and {len(self.found) - 5} more" if len(self.found) > 5 else ""
        text = f"{self.source}: {len(self.found)} tensor(s) hold NaN/Inf values: {listed}{more}"
        if not self.allow:
            raise ConversionError(f"{text}; nothing was written (pass --allow-nonfinite to convert anyway)")
        logger.warning("warning: %s (converted anyway: --allow-nonfinite)", text)
        return f"warning: {text}"
