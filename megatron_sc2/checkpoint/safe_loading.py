"""Read the pickles of a checkpoint folder without letting them run code.

A torch_dist checkpoint holds pickles: `.metadata` (torch.distributed.checkpoint's index of the
tensor chunks), megatron-core ShardedObjects inside the `.distcp` files (RNG states,
TransformerEngine extra state) and `common.pt`. Unpickling calls whatever a file names, so a
folder from elsewhere could run code. Here `.metadata` goes through an unpickler that builds
only checkpoint metadata classes, and objects through torch's weights-only unpickler (tensors,
plain containers, numpy's RNG state). The converter reads `.metadata` only this way; the
trainer reads every pickle of a checkpoint this way before megatron-core loads it.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path

import numpy as np
import torch

DIST_METADATA_FILE = ".metadata"
COMMON_FILE = "common.pt"
ADVICE = "load checkpoints only from sources you trust"

_ALLOWED_GLOBALS = {
    "torch.distributed.checkpoint.metadata": {
        "Metadata", "TensorStorageMetadata", "BytesStorageMetadata", "ChunkStorageMetadata",
        "TensorProperties", "MetadataIndex", "StorageMeta", "_MEM_FORMAT_ENCODING",
    },
    "torch.distributed.checkpoint.filesystem": {"_StorageInfo"},
    "torch.distributed.checkpoint.planner": {"SavePlan", "WriteItem", "WriteItemType", "TensorWriteData"},
    "torch.serialization": {"_get_layout"},
    "collections": {"OrderedDict"},
    "pathlib": {"Path", "PosixPath", "PurePosixPath", "WindowsPath", "PureWindowsPath"},  # checkpoint ids
}
# Beyond tensors and containers, objects hold numpy.random.get_state()'s ndarray (its pickle
# names numpy's array rebuilder, found from an array's own __reduce__: numpy 1 and 2 keep it in
# different modules) and, from older TransformerEngine releases, extra state as a BytesIO.
_OBJECT_GLOBALS = [np.empty(0).__reduce__()[0], np.ndarray, np.dtype, type(np.dtype(np.uint32)), io.BytesIO]


class UnsafeCheckpointFile(ValueError):
    """A pickle in a checkpoint names something a checkpoint never holds (or is unreadable)."""


class _MetadataUnpickler(pickle.Unpickler):
    """Builds only torch.distributed.checkpoint metadata objects, torch.Size and dtypes."""

    def __init__(self, file, path: Path):
        super().__init__(file)
        self.path = path

    def find_class(self, module: str, name: str):
        if module == "torch" and (name == "Size" or isinstance(getattr(torch, name, None), torch.dtype)):
            return getattr(torch, name)
        if name in _ALLOWED_GLOBALS.get(module, ()):
            return super().find_class(module, name)
        raise UnsafeCheckpointFile(f"{self.path}: refusing to load {module}.{name} (not checkpoint metadata); "
                                   f"{ADVICE}")


def read_dist_metadata(folder: Path):
    """The torch.distributed.checkpoint Metadata of `folder`."""
    from torch.distributed.checkpoint.metadata import Metadata

    path = Path(folder) / DIST_METADATA_FILE
    if not path.is_file():
        raise UnsafeCheckpointFile(f"{folder} has no {DIST_METADATA_FILE}: not a torch_dist checkpoint")
    with open(path, "rb") as f:
        try:
            metadata = _MetadataUnpickler(f, path).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as e:
            if isinstance(e, UnsafeCheckpointFile):
                raise
            raise UnsafeCheckpointFile(f"{path}: unreadable checkpoint metadata ({e})") from None
    if not isinstance(metadata, Metadata):
        raise UnsafeCheckpointFile(f"{path}: not torch.distributed.checkpoint metadata")
    return metadata


def load_object(data: bytes | Path, where: str):
    """A torch.save'd object with the weights-only unpickler."""
    source = io.BytesIO(data) if isinstance(data, bytes) else data
    try:
        with torch.serialization.safe_globals(_OBJECT_GLOBALS):
            return torch.load(source, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        lines = [line.strip() for line in str(e).splitlines() if "GLOBAL" in line] or [str(e).splitlines()[0]]
        raise UnsafeCheckpointFile(f"{where}: refusing to load it ({lines[0]}); {ADVICE}") from None
    except (RuntimeError, EOFError, ValueError) as e:
        raise UnsafeCheckpointFile(f"{where}: unreadable ({str(e).splitlines()[0]})") from None


def check_objects(folder: Path, metadata) -> None:
    """Unpickle every object of the checkpoint (`common.pt` and the ShardedObjects) safely,
    so that megatron-core, which unpickles them without restriction, only meets safe ones."""
    from torch.distributed.checkpoint.metadata import BytesStorageMetadata

    folder = Path(folder)
    if (folder / COMMON_FILE).is_file():
        load_object(folder / COMMON_FILE, str(folder / COMMON_FILE))
    for index, info in sorted(metadata.storage_data.items(), key=lambda item: item[0].fqn):
        if not isinstance(metadata.state_dict_metadata.get(index.fqn), BytesStorageMetadata):
            continue
        path = folder / info.relative_path
        with open(path, "rb") as f:
            f.seek(info.offset)
            data = f.read(info.length)
        load_object(data, f"{path} (object {index.fqn})")
