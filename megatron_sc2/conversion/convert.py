"""Export (our checkpoint -> HF folder) and import (HF folder -> our checkpoint), tensor by tensor.

Each owns its destination while it writes (see megatron_sc2/publish.py): an export its `.NAME.lock`
beside the HF folder, an import the checkpoint folder's lock, which training takes too. Each writes
into a hidden staging folder and renames it into place at the end, so a failed run leaves nothing
that looks complete, and a second run on the same destination is refused.
"""

from __future__ import annotations

import glob
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from megatron_sc2 import publish
from megatron_sc2.checkpoint import layout
from megatron_sc2.config import PRESETS, ModelConfig, ParallelConfig
from megatron_sc2.conversion import hf_io, megatron_io
from megatron_sc2.conversion.hf_io import ConversionError, HFReader, NonFiniteCheck, TensorSpec
from megatron_sc2.conversion.mapping import (
    EXTRA_STATE_MODULES,
    Param,
    Transform,
    hf_shapes,
    megatron_shape,
    merge_qkv,
    pad_vocab,
    params,
    split_qkv,
)
from megatron_sc2.conversion.megatron_io import CheckpointReader, TensorToWrite
from megatron_sc2.progress import Progress

IMPORTED_ITERATION = 0
DEFAULT_EOD_ID = 0  # <|endoftext|> in the StarCoder2 tokenizer

log = logging.getLogger(__name__)


@dataclass
class Summary:
    destination: Path
    model: ModelConfig
    files: list[str] = field(default_factory=list)
    num_tensors: int = 0
    num_bytes: int = 0
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        rate = self.num_bytes / max(self.seconds, 1e-9) / 1e6
        lines = [
            f"wrote {self.destination}",
            f"  {self.num_tensors} tensors, {self.num_bytes / 1e9:.3f} GB in {self.seconds:.1f} s ({rate:.0f} MB/s)",
            (
                f"  model: {self.model.num_layers} layers, hidden {self.model.hidden_size}, "
                f"{self.model.num_attention_heads} heads / {self.model.num_query_groups} KV groups, "
                f"vocab {self.model.vocab_size}, {'tied' if self.model.tie_embeddings else 'untied'} embeddings, "
                f"{self.model.num_parameters() / 1e6:.1f}M parameters"
            ),
            f"  files: {', '.join(self.files)}",
        ]
        return "\n".join(lines + [f"  {note}" for note in self.notes])


def hf_output(destination: Path) -> publish.Output:
    """The ownership of an export's HF folder, staged in `.NAME.partial-PID` beside it."""
    parent, name = destination.parent, destination.name
    return publish.Output(
        f"--output {destination}", parent / f".{name}.lock", without_locks=publish.WithoutLocks.RECORDED_OWNER,
        leftovers=f".{glob.escape(name)}.partial-*", staging=parent / f".{name}.partial-{os.getpid()}",
        in_use="is being written by another export", advice="wait for it to end or choose another --output",
        log=log.warning,
    )


def refuse_nonempty(destination: Path) -> None:
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ConversionError(f"{destination} already exists and is not empty; choose a new output folder")


# ---- export -----------------------------------------------------------------------------------

def export_to_hf(load: Path, output: Path, *, iteration: int | None = None, tokenizer_model: Path | None = None,
                 dtype: torch.dtype | None = None, max_shard_bytes: int = 5 * 10**9,
                 progress: bool = True, allow_nonfinite: bool = False) -> Summary:
    start = time.perf_counter()
    reader = CheckpointReader(load, iteration)
    model = reader.model
    padded_vocab = _check_megatron_shapes(reader, model)
    dtype = dtype or reader.dtype("embedding.word_embeddings.weight")
    source = _HFTensors(reader, model)
    specs = [TensorSpec(name, shape, dtype) for name, shape in hf_shapes(model).items()]
    shards = hf_io.plan_shards(specs, max_shard_bytes)
    names = hf_io.shard_file_names(len(shards))
    summary = Summary(output, model, num_tensors=len(specs), num_bytes=sum(s.nbytes for s in specs))
    bar = Progress(summary.num_bytes, "export", progress, unit="B")
    nonfinite = NonFiniteCheck(reader.folder, allow_nonfinite)

    def produce(spec: TensorSpec) -> torch.Tensor:
        tensor = source.get(spec.name)
        nonfinite(spec.name, tensor)
        bar.advance(spec.nbytes, spec.name)
        return tensor

    try:
        with hf_output(output) as owned:
            refuse_nonempty(output)
            staging = owned.staging
            if tokenizer_model is not None:
                eod_id = hf_io.write_tokenizer(staging, tokenizer_model)
            else:
                eod_id = DEFAULT_EOD_ID
                summary.notes.append("no tokenizer written (pass --tokenizer-model PATH to include one)")
            for shard, name in zip(shards, names):
                hf_io.write_safetensors(staging / name, shard, produce)
            hf_io.write_index(staging, shards, names)
            hf_io.write_json(staging / "config.json", hf_io.hf_config(model, dtype, eod_id))
            hf_io.write_generation_config(staging, eod_id)
            summary.files = sorted(p.name for p in staging.iterdir())
            warning = nonfinite.finish()
            owned.publish(staging, output)
    finally:
        bar.close()
    summary.notes += [warning] if warning else []
    summary.seconds = time.perf_counter() - start
    padding = (f"{padded_vocab - model.vocab_size} vocab padding rows removed ({padded_vocab} -> {model.vocab_size})"
               if padded_vocab > model.vocab_size else "no vocab padding")
    summary.notes.insert(0, f"from {reader.folder} (iteration {reader.iteration}), dtype {dtype}, {padding}")
    return summary


def _check_megatron_shapes(reader: CheckpointReader, model: ModelConfig) -> int:
    """Every tensor the model needs, with the shape its config implies; returns the padded vocab size."""
    embedding_rows = reader.shape("embedding.word_embeddings.weight")[0]
    if embedding_rows < model.vocab_size:
        raise ConversionError(
            f"{reader.folder}: embedding.word_embeddings.weight has {embedding_rows} rows, fewer than the "
            f"vocab size {model.vocab_size} in {layout.SC2_METADATA}"
        )
    for param in params(model):
        expected = megatron_shape(param, model, embedding_rows)
        found = reader.shape(param.megatron, param.megatron_aliases)
        if found != expected:
            raise ConversionError(
                f"{reader.folder}: tensor {param.megatron} has shape {found}, but the model config in "
                f"{layout.SC2_METADATA} implies {expected} (a checkpoint of another model?)"
            )
    return embedding_rows


class _HFTensors:
    """HF tensors computed from checkpoint tensors; the last fused QKV is kept for its k and v."""

    def __init__(self, reader: CheckpointReader, model: ModelConfig):
        self.reader, self.model = reader, model
        self.by_name = {name: (param, i) for param in params(model) for i, name in enumerate(param.hf)}
        self._last: tuple[str, tuple[torch.Tensor, ...]] | None = None

    def get(self, name: str) -> torch.Tensor:
        param, index = self.by_name[name]
        if self._last is None or self._last[0] != param.megatron:
            self._last = (param.megatron, self._to_hf(param))
        return self._last[1][index]

    def _to_hf(self, param: Param) -> tuple[torch.Tensor, ...]:
        tensor = self.reader.read(param.megatron, param.megatron_aliases)
        if param.transform is Transform.QKV:
            return split_qkv(tensor, self.model)
        if param.transform is Transform.VOCAB:
            return (tensor[: self.model.vocab_size],)
        return (tensor,)


# ---- import -----------------------------------------------------------------------------------

def import_from_hf(hf: Path, save: Path, *, tensor_parallel: int = 1, pipeline_parallel: int = 1,
                   progress: bool = True, allow_nonfinite: bool = False) -> Summary:
    start = time.perf_counter()
    model = hf_io.model_config_from_hf(hf)
    parallel = ParallelConfig(tensor_model_parallel_size=tensor_parallel, pipeline_model_parallel_size=pipeline_parallel)
    try:
        parallel.validate_for(model)
    except ValueError as e:
        raise ConversionError(f"{hf}: {e}") from None
    reader = HFReader(hf)
    _check_hf_shapes(reader, model)
    padded_vocab = model.padded_vocab_size(tensor_parallel)
    nonfinite = NonFiniteCheck(hf, allow_nonfinite)

    tensors = [
        TensorToWrite(param.megatron, megatron_shape(param, model, padded_vocab), reader.dtype(param.hf[0]),
                      _megatron_producer(reader, model, param, padded_vocab, nonfinite))
        for param in params(model)
    ]
    sizes = {t.key: torch.Size(t.shape).numel() * t.dtype.itemsize for t in tensors}
    objects = {
        f"decoder.layers.{layer}.{module}._extra_state/shard_0_1": None
        for layer in range(model.num_layers) for module in EXTRA_STATE_MODULES
    }
    summary = Summary(save, model, num_tensors=len(tensors), num_bytes=sum(sizes.values()))
    bar = Progress(summary.num_bytes, "import", progress, unit="B")
    final = layout.iteration_dir(save, IMPORTED_ITERATION)
    owned = layout.output(save, staging=layout.partial_dir(save, IMPORTED_ITERATION),
                          in_use="is in use by another training job or import",
                          advice="wait for it to end or choose another --save folder")
    try:
        with owned:
            if (save / layout.MARKER).exists():
                raise ConversionError(f"{save} already holds a checkpoint ({layout.MARKER}); choose a new --save folder")
            refuse_nonempty(final)
            megatron_io.write_dist_checkpoint(
                owned.staging, tensors, objects, on_written=lambda key: bar.advance(sizes[key], key)
            )
            layout.write_metadata(owned.staging, IMPORTED_ITERATION, model, parallel, common={}, model_only=True)
            warning = nonfinite.finish()
            owned.publish(owned.staging, final)
            layout.write_marker(save, IMPORTED_ITERATION)
    finally:
        bar.close()
    summary.files = [final.name, layout.MARKER]
    summary.seconds = time.perf_counter() - start
    summary.notes += [
        f"from {hf}; model weights only (\"model_only\": true): training starts a fresh optimizer from them",
        f"vocab padded {model.vocab_size} -> {padded_vocab} rows for --tensor-model-parallel-size {tensor_parallel}",
        (
            f"continue with: pretrain --load {save} --model {_preset_of(model) or '<model YAML>'} "
            f"--tensor-model-parallel-size {tensor_parallel} --pipeline-model-parallel-size {pipeline_parallel}"
        ),
    ] + ([warning] if warning else [])
    return summary


def _preset_of(model: ModelConfig) -> str | None:
    """The preset with exactly this config; training checks the checkpoint holds its --model."""
    return next((name for name, preset in PRESETS.items() if preset == model), None)


def _check_hf_shapes(reader: HFReader, model: ModelConfig) -> None:
    expected = hf_shapes(model)
    for name, shape in expected.items():
        if reader.shape(name) != shape:
            raise ConversionError(
                f"{reader.folder}: tensor {name} has shape {reader.shape(name)}, but config.json implies {shape}"
            )
    ignorable = {"lm_head.weight"} if model.tie_embeddings else set()  # tied copies some exporters write
    unexpected = sorted(set(reader.weight_map) - set(expected) - ignorable)
    if unexpected:
        raise ConversionError(
            f"{reader.folder}: tensors that a StarCoder2 model with this config.json does not have: "
            f"{unexpected[:5]}{' ...' if len(unexpected) > 5 else ''}"
        )


def _megatron_producer(reader: HFReader, model: ModelConfig, param: Param, padded_vocab: int,
                       nonfinite: NonFiniteCheck):
    def produce() -> torch.Tensor:
        tensors = [reader.get(name) for name in param.hf]
        for name, tensor in zip(param.hf, tensors):
            nonfinite(name, tensor)
        if param.transform is Transform.QKV:
            return merge_qkv(*tensors, model)
        if param.transform is Transform.VOCAB:
            return pad_vocab(tensors[0], padded_vocab)
        return tensors[0]

    return produce
