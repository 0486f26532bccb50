"""Checkpoints in Megatron's layout, through megatron-core's dist_checkpointing (torch_dist).

    SAVE/latest_checkpointed_iteration.txt     the last complete checkpoint, written last
    SAVE/iter_0000100/                         a dist_checkpointing directory: global tensors,
        sc2_checkpoint.json                    so any TP x PP x DP layout can load it; plus our
                                               model config, layout and training state

The model, optimizer (megatron-core's fully reshardable format for the distributed optimizer)
and per-rank RNG states are sharded; the scheduler and training state are common. A save is
written into `.iter_0000100.partial/` and renamed to `iter_0000100/` only once every rank has
finished it, then the marker names it: a save that fails or dies midway leaves no `iter_*`
directory, and the marker still names the previous complete checkpoint.
"""

from __future__ import annotations

import json
import os
import random
import shutil
from pathlib import Path

import numpy as np
import torch

from megatron_sc2 import mcore_compat
from megatron_sc2.config import ModelConfig, ParallelConfig
from megatron_sc2.training import safe_loading
from megatron_sc2.training.optim import with_run_learning_rates

MARKER = "latest_checkpointed_iteration.txt"
SC2_METADATA = "sc2_checkpoint.json"
PARTIAL_SUFFIX = ".partial"
# megatron-core's common (non-sharded) state: common.pt up to 0.18, a sharded object from 0.19.
SHARDED_COMMON_STATE = "common_state/"
# What a run may choose differently from the checkpoint it loads: stage settings and training
# choices (released HF configs carry dropout 0.1). Every other field is the architecture.
RUN_CHOICE_FIELDS = {"rotary_base", "sliding_window", "max_position_embeddings", "hidden_dropout",
                     "attention_dropout", "init_method_std"}
# The distributed optimizer's state in a layout-independent form (megatron-core 0.16 marks its
# other reshardable format, fully_sharded_model_space, deprecated and fails on it).
OPTIMIZER_FORMAT = {"distrib_optim_sharding_type": "fully_reshardable"}


class CheckpointError(RuntimeError):
    pass


def iteration_dir(root: str | Path, iteration: int) -> Path:
    return Path(root) / f"iter_{iteration:07d}"


def partial_dir(root: str | Path, iteration: int) -> Path:
    """Where a save of `iteration` is written until it is complete."""
    return Path(root) / f".{iteration_dir(root, iteration).name}{PARTIAL_SUFFIX}"


def remove_partial_saves(root: str | Path) -> None:
    """Drop what interrupted saves left; only the owner of `root`'s lock may call it."""
    for leftover in Path(root).glob(f".iter_*{PARTIAL_SUFFIX}"):
        shutil.rmtree(leftover, ignore_errors=True)


def latest_iteration(root: str | Path) -> int | None:
    marker = Path(root) / MARKER
    if not marker.is_file():
        return None
    text = marker.read_text().strip()
    if not text.isdigit():
        raise CheckpointError(f"{marker}: expected an iteration number, found {text!r}")
    return int(text)


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


def _rng_state() -> dict:
    state = {"random": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    from megatron.core import tensor_parallel

    state["tracker"] = tensor_parallel.get_cuda_rng_tracker().get_states()
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def _set_rng_state(state: dict) -> None:
    from megatron.core import tensor_parallel

    random.setstate(state["random"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    tensor_parallel.get_cuda_rng_tracker().set_states(state["tracker"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def _model_key(index: int, num_chunks: int) -> str:
    return "model" if num_chunks == 1 else f"model{index}"


def _sharded_state(model: list, optimizer, *, with_optimizer: bool, with_rng: bool, is_loading: bool) -> dict:
    from megatron.core import parallel_state
    from megatron.core.dist_checkpointing.mapping import ShardedObject
    from megatron.core.utils import unwrap_model

    # Megatron-LM's layout: `model`, or one `model<i>` per virtual stage. The chunks' local keys
    # repeat (each numbers its layers from 0), so the optimizer maps its params over them all.
    state = {_model_key(i, len(model)): unwrap_model(chunk).sharded_state_dict() for i, chunk in enumerate(model)}
    if with_optimizer:
        state["optimizer"] = optimizer.sharded_state_dict(state, is_loading=is_loading, metadata=OPTIMIZER_FORMAT)
    if with_rng:
        pp, tp = parallel_state.get_pipeline_model_parallel_rank(), parallel_state.get_tensor_model_parallel_rank()
        state["rng_state"] = ShardedObject(
            "rng_state", _rng_state(),
            (parallel_state.get_pipeline_model_parallel_world_size(), parallel_state.get_tensor_model_parallel_world_size()),
            (pp, tp), replica_id=parallel_state.get_data_parallel_rank(),
        )
    return state


def save(root: str | Path, iteration: int, model: list, optimizer, *, common: dict, model_config: ModelConfig,
         parallel: ParallelConfig, model_only: bool = False, async_queue=None) -> Path:
    """Write iter_N/ on every rank, then (rank 0) the metadata and, last, the marker.

    With `async_queue` (from `mcore_compat.async_calls_queue()`) the tensors are written in the
    background and the metadata and marker when the queue finalizes the write on all ranks.
    """
    from megatron.core import dist_checkpointing

    root = Path(root)
    directory, partial = iteration_dir(root, iteration), partial_dir(root, iteration)
    if latest_iteration(root) == iteration:
        return directory  # complete already: the marker's checkpoint is never rewritten
    rank = torch.distributed.get_rank()
    if rank == 0:
        root.mkdir(parents=True, exist_ok=True)
        if partial.exists():  # left by an interrupted save of this iteration
            shutil.rmtree(partial)
        partial.mkdir()
    torch.distributed.barrier()
    state = _sharded_state(model, optimizer, with_optimizer=not model_only, with_rng=not model_only, is_loading=False)
    state["common"] = common

    def finalize():
        torch.distributed.barrier()
        if rank == 0:
            write_metadata(partial, iteration, model_config, parallel, common, model_only=model_only)
            if directory.exists():  # an older save of this iteration that the marker does not name
                shutil.rmtree(directory)
            os.replace(partial, directory)
            write_marker(root, iteration)
        torch.distributed.barrier()

    request = dist_checkpointing.save(state, str(partial),
                                      **(mcore_compat.async_save_options() if async_queue is not None else {}))
    if async_queue is None:
        finalize()
    else:
        request.add_finalize_fn(finalize)
        async_queue.schedule_async_request(request)
    return directory


def write_metadata(directory: Path, iteration: int, model_config: ModelConfig, parallel: ParallelConfig,
                   common: dict, *, model_only: bool) -> None:
    meta = {
        "format": "megatron_sc2/torch_dist/v1",
        "iteration": iteration,
        "model": model_config.to_dict(),
        "parallel": {
            "tensor_model_parallel_size": parallel.tensor_model_parallel_size,
            "pipeline_model_parallel_size": parallel.pipeline_model_parallel_size,
            "virtual_pipeline_model_parallel_size": parallel.virtual_pipeline_model_parallel_size,
            "use_distributed_optimizer": parallel.use_distributed_optimizer,
        },
        "model_only": model_only,
        "train_state": common.get("train_state"),
    }
    tmp = directory / (SC2_METADATA + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2))
    os.replace(tmp, directory / SC2_METADATA)


def write_marker(root: Path, iteration: int) -> None:
    tmp = root / (MARKER + ".tmp")
    tmp.write_text(f"{iteration}\n")
    os.replace(tmp, root / MARKER)


def check_compatible(saved: dict, model_config: ModelConfig, directory: Path) -> None:
    """The checkpoint must hold this architecture."""
    expected = model_config.to_dict()
    different = {
        k: (saved.get(k), v) for k, v in expected.items() if k not in RUN_CHOICE_FIELDS and saved.get(k) != v
    }
    if different:
        detail = ", ".join(f"{k}: checkpoint {a!r} vs run {b!r}" for k, (a, b) in sorted(different.items()))
        hint = "; the vocabulary follows --tokenizer-model unless --vocab-size is given" if "vocab_size" in different \
            else ""
        raise CheckpointError(f"checkpoint {directory} holds another model ({detail}){hint}")


def load(directory: Path, meta: dict, model: list, optimizer, *, model_config: ModelConfig,
         parallel: ParallelConfig, load_optimizer: bool = True, load_rng: bool = True) -> dict:
    """Load into this run's layout; returns the common state (empty for a model-only checkpoint)."""
    from megatron.core import dist_checkpointing
    from megatron.core.utils import unwrap_model

    check_compatible(meta["model"], model_config, directory)
    saved_layout = meta["parallel"]
    with_optimizer = load_optimizer and not meta.get("model_only", False)
    same_ranks = (
        saved_layout["tensor_model_parallel_size"] == parallel.tensor_model_parallel_size
        and saved_layout["pipeline_model_parallel_size"] == parallel.pipeline_model_parallel_size
    )
    with_rng = load_rng and not meta.get("model_only", False) and same_ranks
    state = _sharded_state(model, optimizer, with_optimizer=with_optimizer, with_rng=with_rng, is_loading=True)
    loaded = dist_checkpointing.load(state, str(directory))
    for i, chunk in enumerate(model):
        unwrap_model(chunk).load_state_dict(loaded[_model_key(i, len(model))])
    if with_optimizer:
        optimizer.load_state_dict(with_run_learning_rates(loaded["optimizer"], optimizer))
    if with_rng:
        _set_rng_state(loaded["rng_state"])
    return {} if meta.get("model_only") else loaded.get("common", {})
