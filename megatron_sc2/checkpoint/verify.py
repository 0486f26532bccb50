"""Whether a checkpoint folder is complete, intact and safe to hand to megatron-core, before it loads it."""

from __future__ import annotations

import json
from pathlib import Path

from megatron_sc2 import mcore_compat
from megatron_sc2.checkpoint import safe_loading
from megatron_sc2.checkpoint.layout import (
    MARKER,
    SC2_METADATA,
    CheckpointError,
    iteration_dir,
    latest_iteration,
)

# megatron-core's common (non-sharded) state: common.pt up to 0.18, a sharded object from 0.19.
SHARDED_COMMON_STATE = "common_state/"


def verify_checkpoint(directory: Path) -> dict:
    """Fail, naming the file, on a partial, truncated or unsafe checkpoint; return its sc2 metadata.

    Every pickle in it is read here with restricted unpicklers: megatron-core's loading, which
    unpickles without restriction, then only meets checkpoint data."""
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint {directory} does not exist")
    meta_path = directory / SC2_METADATA
    if not meta_path.is_file():
        raise CheckpointError(f"checkpoint {directory} is incomplete: {SC2_METADATA} is missing (save interrupted?)")
    for name in ("metadata.json", ".metadata"):
        if not (directory / name).is_file():
            raise CheckpointError(f"checkpoint {directory} is incomplete: {name} is missing")
    try:
        metadata = safe_loading.read_dist_metadata(directory)
    except safe_loading.UnsafeCheckpointFile as e:
        raise CheckpointError(str(e)) from None
    storage = metadata.storage_data
    needed: dict[str, int] = {}
    for info in storage.values():
        needed[info.relative_path] = max(needed.get(info.relative_path, 0), info.offset + info.length)
    if not (directory / safe_loading.COMMON_FILE).is_file():
        check_sharded_common_state(directory, storage)
    for name, size in sorted(needed.items()):
        path = directory / name
        if not path.is_file():
            raise CheckpointError(f"checkpoint {directory} is incomplete: {name} is missing")
        if path.stat().st_size < size:
            raise CheckpointError(
                f"checkpoint {directory} is corrupted: {name} has {path.stat().st_size} bytes, needs {size}"
            )
    try:
        safe_loading.check_objects(directory, metadata)
    except safe_loading.UnsafeCheckpointFile as e:
        raise CheckpointError(str(e)) from None
    return json.loads(meta_path.read_text())


def check_sharded_common_state(directory: Path, storage: dict) -> None:
    """A checkpoint without common.pt holds its common state in the torch_dist files, as
    megatron-core 0.19 writes it; releases before 0.19 cannot read that."""
    if not any(index.fqn.startswith(SHARDED_COMMON_STATE) for index in storage):
        raise CheckpointError(f"checkpoint {directory} is incomplete: {safe_loading.COMMON_FILE} is missing")
    if not mcore_compat.reads_sharded_common_state():
        raise CheckpointError(
            f"checkpoint {directory} was written by megatron-core 0.19 or newer, which megatron-core "
            f"{mcore_compat.release()} cannot read: load it with megatron-core>=0.19 (checkpoints move "
            f"forward across releases, not back)")


def resolve(root: str | Path, iteration: int | None = None) -> tuple[Path, dict]:
    """The checkpoint to load (the marker's unless `iteration` is given), verified."""
    root = Path(root)
    if not root.is_dir():
        raise CheckpointError(f"--load {root}: no such directory")
    if iteration is None:
        iteration = latest_iteration(root)
        if iteration is None:
            raise CheckpointError(f"--load {root}: no {MARKER}; not a checkpoint directory (or no save finished)")
    directory = iteration_dir(root, iteration)
    return directory, verify_checkpoint(directory)
