"""The megatron side: our checkpoints (Megatron's layout around a megatron-core `torch_dist`
dist-checkpoint), read and written one tensor at a time.

A torch_dist checkpoint stores every tensor as its global (unsharded) shape split in chunks, one
per saving rank; reading a key assembles its chunks, so export works from any TP/PP layout. The
`.metadata` file is a pickle: it is read with the restricted unpickler (checkpoint/safe_loading.py),
and tensor chunks with `torch.load(weights_only=True)`, so a checkpoint folder
cannot run code.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.distributed.checkpoint import DefaultSavePlanner
from torch.distributed.checkpoint.planner import WriteItemType

from megatron_sc2.checkpoint import (
    MARKER,
    SC2_METADATA,
    CheckpointError,
    iteration_dir,
    iterations,
    latest_iteration,
    safe_loading,
)
from megatron_sc2.config import ModelConfig
from megatron_sc2.conversion.hf_io import ConversionError

# ---- safe metadata ----------------------------------------------------------------------------

def read_dist_metadata(folder: Path):
    try:
        return safe_loading.read_dist_metadata(folder)
    except safe_loading.UnsafeCheckpointFile as e:
        raise ConversionError(str(e)) from None


# ---- reading ----------------------------------------------------------------------------------

def resolve_iteration(root: Path, iteration: int | None) -> int:
    if not root.is_dir():
        raise ConversionError(f"checkpoint folder {root} does not exist")
    if iteration is not None:
        if not iteration_dir(root, iteration).is_dir():
            found = [iteration_dir(root, i).name for i in iterations(root)]
            raise ConversionError(f"{iteration_dir(root, iteration)} does not exist; found: {found or 'none'}")
        return iteration
    try:
        latest = latest_iteration(root)
    except CheckpointError as e:
        raise ConversionError(str(e)) from None
    if latest is None:
        raise ConversionError(f"{root} has no {MARKER}; pass --iteration or point --load at a checkpoint folder")
    return resolve_iteration(root, latest)


class CheckpointReader:
    """One iteration of a checkpoint: its model config and its tensors, read by global key."""

    def __init__(self, root: Path, iteration: int | None = None):
        from torch.distributed.checkpoint import FileSystemReader

        self.iteration = resolve_iteration(root, iteration)
        self.folder = iteration_dir(root, self.iteration)
        info_path = self.folder / SC2_METADATA
        if not info_path.is_file():
            raise ConversionError(f"{self.folder} has no {SC2_METADATA}: not a megatron_sc2 checkpoint")
        self.info = json.loads(info_path.read_text())
        try:
            self.model = ModelConfig.from_dict(self.info["model"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConversionError(f"{info_path}: bad model config ({e})") from None
        self.metadata = read_dist_metadata(self.folder)
        self._reader = FileSystemReader(self.folder)
        self._reader.set_up_storage_reader(self.metadata, is_coordinator=True)

    def locate(self, key: str, aliases: tuple[str, ...] = ()) -> tuple[str, int | None]:
        """The stored key of a tensor and, for layers stacked in one tensor, its index on dim 0."""
        from torch.distributed.checkpoint.metadata import TensorStorageMetadata

        stored = self.metadata.state_dict_metadata
        for candidate in (key, *aliases):
            if isinstance(stored.get(candidate), TensorStorageMetadata):
                return candidate, None
            # megatron-core's homogeneous-layer layout: decoder.layers.<name> with a leading layer axis
            head, dot, tail = candidate.partition(".layers.")
            layer, _, name = tail.partition(".")
            stacked = f"{head}.layers.{name}"
            if dot and layer.isdigit() and isinstance(stored.get(stacked), TensorStorageMetadata):
                return stacked, int(layer)
        raise ConversionError(f"{self.folder}: tensor {key} is missing from the checkpoint")

    def shape(self, key: str, aliases: tuple[str, ...] = ()) -> tuple[int, ...]:
        stored, layer = self.locate(key, aliases)
        size = tuple(self.metadata.state_dict_metadata[stored].size)
        return size if layer is None else size[1:]

    def dtype(self, key: str, aliases: tuple[str, ...] = ()) -> torch.dtype:
        return self.metadata.state_dict_metadata[self.locate(key, aliases)[0]].properties.dtype

    def read(self, key: str, aliases: tuple[str, ...] = ()) -> torch.Tensor:
        from torch.distributed.checkpoint.metadata import ChunkStorageMetadata
        from torch.distributed.checkpoint.planner import LoadPlan
        from torch.distributed.checkpoint.planner_helpers import create_read_items_for_chunk_list

        stored, layer = self.locate(key, aliases)
        md = self.metadata.state_dict_metadata[stored]
        size = tuple(md.size)
        if layer is None:
            offsets, sizes = (0,) * len(size), size
        else:
            offsets, sizes = (layer,) + (0,) * (len(size) - 1), (1, *size[1:])
        out = torch.empty(sizes, dtype=md.properties.dtype)
        wanted = ChunkStorageMetadata(offsets=torch.Size(offsets), sizes=torch.Size(sizes))
        items = create_read_items_for_chunk_list(stored, md, [wanted])
        covered = sum(torch.Size(item.lengths).numel() for item in items)
        if covered != out.numel():
            raise ConversionError(f"{self.folder}: tensor {stored} is incomplete (shards missing from .metadata)")
        try:
            self._reader.read_data(LoadPlan(items), _CopyInto(out)).wait()
        except FileNotFoundError as e:
            raise ConversionError(f"{self.folder}: file {Path(e.filename).name} holding {stored} is missing") from None
        except (RuntimeError, pickle.UnpicklingError, EOFError, ValueError) as e:  # truncated or not torch.save
            files = sorted({self.metadata.storage_data[item.storage_index].relative_path for item in items})
            reason = str(e).split(". ")[0].splitlines()[0]
            raise ConversionError(
                f"{self.folder}: {', '.join(files)} holding {stored} cannot be read ({reason}); "
                "the checkpoint is damaged: export another iteration or copy it again"
            ) from None
        return out if layer is None else out[0]


class _CopyInto:
    """The three planner callbacks FileSystemReader.read_data uses: copy each chunk into `out`."""

    def __init__(self, out: torch.Tensor):
        self.out = out

    def resolve_tensor(self, item) -> torch.Tensor:
        index = tuple(slice(o, o + n) for o, n in zip(item.dest_offsets, item.lengths))
        return self.out[index]

    def commit_tensor(self, item, tensor: torch.Tensor) -> None:
        pass

    def load_bytes(self, item, value) -> None:
        raise AssertionError("tensor reads only")


# ---- writing ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class TensorToWrite:
    key: str
    shape: tuple[int, ...]
    dtype: torch.dtype
    produce: Callable[[], torch.Tensor]


def write_dist_checkpoint(folder: Path, tensors: list[TensorToWrite], objects: dict[str, object],
                          on_written: Callable[[str], None] = lambda key: None) -> None:
    """A torch_dist dist-checkpoint that megatron-core's `dist_checkpointing.load` accepts, written
    one tensor at a time: each tensor is produced when the writer reaches it and goes to its own file.

    `objects` are megatron-core ShardedObjects, keyed by their unique key (`<key>/shard_<offset>_<shape>`).
    """
    from megatron.core.dist_checkpointing.core import CheckpointingConfig, save_config
    from torch.distributed.checkpoint import FileSystemWriter
    from torch.distributed.checkpoint import save as dcp_save

    folder.mkdir(parents=True, exist_ok=True)
    state_dict: dict[str, object] = {t.key: torch.empty(t.shape, dtype=t.dtype, device="meta") for t in tensors}
    # stored as megatron-core stores a ShardedObject: its value in a one-element list, torch.save'd
    state_dict.update({key: [value] for key, value in objects.items()})
    planner = _LazySavePlanner({t.key: t.produce for t in tensors}, on_written)
    # One file per tensor: the writer then holds a single tensor at a time.
    writer = FileSystemWriter(str(folder), single_file_per_rank=False, sync_files=True)
    dcp_save(state_dict, storage_writer=writer, planner=planner, no_dist=True)
    torch.save({}, folder / "common.pt")
    save_config(CheckpointingConfig(sharded_backend="torch_dist"), str(folder))


class _LazySavePlanner(DefaultSavePlanner):
    """Plans from meta tensors; produces each tensor's data only when the writer asks for it."""

    def __init__(self, producers: dict[str, Callable[[], torch.Tensor]], on_written: Callable[[str], None]):
        super().__init__(flatten_state_dict=False, flatten_sharded_tensors=False)
        self.producers = producers
        self.on_written = on_written

    def resolve_data(self, write_item):
        if write_item.type == WriteItemType.BYTE_IO:
            return super().resolve_data(write_item)
        key = write_item.index.fqn
        tensor = self.producers[key]()
        expected = tuple(write_item.tensor_data.size)
        if tuple(tensor.shape) != expected:
            raise ConversionError(f"{key}: produced shape {tuple(tensor.shape)}, expected {expected}")
        self.on_written(key)
        return tensor.to(write_item.tensor_data.properties.dtype).contiguous()
