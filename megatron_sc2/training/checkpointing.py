"""megatron-core's save and load of our checkpoints (dist_checkpointing, torch_dist), in the layout of
megatron_sc2/checkpoint/ (iteration folders, marker, sc2_checkpoint.json, the `--save` lock).

A `torch_dist` checkpoint stores global tensors, so any TP x PP x DP layout can load it. The model,
optimizer (megatron-core's fully reshardable format for the distributed optimizer) and per-rank RNG
states are sharded; the scheduler and training state are common. Every rank writes into the
iteration's `.partial` folder; rank 0 renames it into place once every rank has finished, then
writes the marker.
"""

from __future__ import annotations

import logging
import random
import shutil
import time
from pathlib import Path

import numpy as np
import torch
from torch.distributed.checkpoint.api import CheckpointException

from megatron_sc2 import mcore_compat, publish
from megatron_sc2.checkpoint import layout
from megatron_sc2.checkpoint.layout import CheckpointError, iteration_dir, latest_iteration, partial_dir
from megatron_sc2.config import ModelConfig, ParallelConfig
from megatron_sc2.training.optim import with_run_learning_rates

# What a run may choose differently from the checkpoint it loads: stage settings and training
# choices (released HF configs carry dropout 0.1). Every other field is the architecture.
RUN_CHOICE_FIELDS = {"rotary_base", "sliding_window", "max_position_embeddings", "hidden_dropout",
                     "attention_dropout", "init_method_std"}
# Of those, what changes the function the loaded weights compute (a stage's choice, not a mistake only there).
POSITION_FIELDS = ("rotary_base", "sliding_window")
# The distributed optimizer's state in a layout-independent form (megatron-core 0.16 marks its
# other reshardable format, fully_sharded_model_space, deprecated and fails on it).
OPTIMIZER_FORMAT = {"distrib_optim_sharding_type": "fully_reshardable"}

log = logging.getLogger(__name__)


def hold(root: str | Path) -> publish.Output | None:
    """Global rank 0 owns `root` for the run (and clears what interrupted saves left there); every
    rank stops with the same message if it cannot. Rank 0 gets the ownership to release."""
    owned, problem = None, None
    if torch.distributed.get_rank() == 0:
        try:
            owned = layout.acquire(root)
        except publish.OutputBusy as e:
            problem = str(e)
    shared = [problem]
    torch.distributed.broadcast_object_list(shared, src=0)
    if shared[0]:
        raise CheckpointError(shared[0])
    return owned


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
    rank, start = torch.distributed.get_rank(), time.perf_counter()
    if rank == 0:
        log.info("saving checkpoint at iteration %d to %s%s", iteration, root,
                 " (in the background, --async-save)" if async_queue is not None else "")
        publish.fresh_folder(partial)  # what an interrupted save of this iteration left goes
    torch.distributed.barrier()
    state = _sharded_state(model, optimizer, with_optimizer=not model_only, with_rng=not model_only, is_loading=False)
    state["common"] = common

    def finalize():
        torch.distributed.barrier()
        if rank == 0:
            layout.write_metadata(partial, iteration, model_config, parallel, common, model_only=model_only)
            # an older save of this iteration that the marker does not name is replaced
            publish.rename_into_place(partial, directory)
            layout.write_marker(root, iteration)
        torch.distributed.barrier()
        if rank == 0:
            log.info("saved checkpoint at iteration %d to %s in %.2f s%s", iteration, directory,
                     time.perf_counter() - start, " (written in the background)" if async_queue is not None else "")

    try:
        request = dist_checkpointing.save(state, str(partial),
                                          **(mcore_compat.async_save_options() if async_queue is not None else {}))
        if async_queue is None:
            finalize()
    except (Exception, CheckpointException) as error:  # CheckpointException, each rank's failures, is a BaseException
        full = publish.no_space_left(error) or publish.out_of_space(partial)  # before the partial save goes
        if not (isinstance(error, CheckpointException) or full):
            raise
        if rank == 0:
            shutil.rmtree(partial, ignore_errors=True)
        raise CheckpointError(layout.failed_save_message(root, iteration, error, full=full)) from None
    if async_queue is not None:
        request.add_finalize_fn(finalize)
        async_queue.schedule_async_request(request)
    return directory


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

    start = time.perf_counter()
    check_compatible(meta["model"], model_config, directory)
    changed = [f"{k} {getattr(model_config, k)!r} (checkpoint: {meta['model'].get(k)!r})" for k in POSITION_FIELDS
               if meta["model"].get(k) != getattr(model_config, k)]
    if changed and torch.distributed.get_rank() == 0:  # a new stage, or a run that forgot the import's values
        log.info("this run attends differently from the checkpoint it loads: %s", ", ".join(changed))
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
    elif optimizer is not None:  # bf16 keeps fp32 main weights of its own: else step 1 restores the init's
        optimizer.reload_model_params()
    if with_rng:
        _set_rng_state(loaded["rng_state"])
    if torch.distributed.get_rank() == 0:
        log.info("loaded iteration %d from %s in %.2f s (model: yes, optimizer: %s, rng: %s)", meta["iteration"],
                 directory, time.perf_counter() - start,
                 _loaded_or_why(with_optimizer, meta, load_optimizer, "--no-load-optim or --finetune", saved_layout),
                 _loaded_or_why(with_rng, meta, load_rng, "--no-load-rng or --finetune", saved_layout))
    return {} if meta.get("model_only") else loaded.get("common", {})


def _loaded_or_why(loaded: bool, meta: dict, requested: bool, flags: str, saved_layout: dict) -> str:
    """"yes", or why not: a load without optimizer state must say so."""
    if loaded:
        return "yes"
    if meta.get("model_only"):
        return "no (a model-only checkpoint)"
    if not requested:
        return f"no ({flags})"
    return (f"no (saved at TP{saved_layout['tensor_model_parallel_size']} x "
            f"PP{saved_layout['pipeline_model_parallel_size']})")
