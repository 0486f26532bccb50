"""A checkpoint folder on disk, in Megatron's layout; training, conversion and evaluation all go through here.

    SAVE/.save.lock                            the one job writing SAVE (see megatron_sc2/publish.py)
    SAVE/.iter_0000100.partial/                a save being written
    SAVE/iter_0000100/                         a complete save: a megatron-core dist_checkpointing folder
        sc2_checkpoint.json                    plus our model config, layout, training state and tokenizer
    SAVE/latest_checkpointed_iteration.txt     the last complete checkpoint, written last

A save is written into its `.partial` folder and renamed to `iter_N/` only once complete, then the marker
names it: a save that fails or dies midway leaves no `iter_*` folder, and the marker still names the
previous complete checkpoint. The owner of the lock removes what interrupted saves left.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from megatron_sc2 import publish
from megatron_sc2.config import ModelConfig, ParallelConfig

MARKER = "latest_checkpointed_iteration.txt"
SC2_METADATA = "sc2_checkpoint.json"
LOCK_FILE = ".save.lock"
PARTIAL_SUFFIX = ".partial"
ITERATION_PREFIX = "iter_"
FORMAT = "megatron_sc2/torch_dist/v1"
# A requeued SLURM job waits this long for its previous run's lock, which a dead node may still hold.
REQUEUE_WAIT_S = 300.0
# A folder without locks: the recorded owner decides, so that existing clusters keep training.
WITHOUT_LOCKS = publish.WithoutLocks.RECORDED_OWNER

log = logging.getLogger(__name__)


class CheckpointError(RuntimeError):
    pass


def iteration_name(iteration: int) -> str:
    """`iter_0000100`: also the name of anything kept per checkpoint elsewhere (evaluation results)."""
    return f"{ITERATION_PREFIX}{iteration:07d}"


def iteration_dir(root: str | Path, iteration: int) -> Path:
    return Path(root) / iteration_name(iteration)


def partial_dir(root: str | Path, iteration: int) -> Path:
    """Where a save of `iteration` is written until it is complete."""
    return Path(root) / f".{iteration_name(iteration)}{PARTIAL_SUFFIX}"


def iterations(root: str | Path) -> list[int]:
    """The iterations with an `iter_*` folder, complete or not (a save of a later one may be under way)."""
    numbers = (p.name.removeprefix(ITERATION_PREFIX) for p in Path(root).glob(f"{ITERATION_PREFIX}*"))
    return sorted(int(n) for n in numbers if n.isdigit())


def latest_iteration(root: str | Path) -> int | None:
    marker = Path(root) / MARKER
    if not marker.is_file():
        return None
    text = marker.read_text().strip()
    if not text.isdigit():
        raise CheckpointError(f"{marker}: expected an iteration number, found {text!r}")
    return int(text)


def complete_iterations(root: str | Path) -> list[int]:
    """Every checkpoint up to the marker's: training writes the marker last."""
    latest = latest_iteration(root)
    return [] if latest is None else [i for i in iterations(root) if i <= latest]


def read_metadata(root: str | Path, iteration: int) -> dict:
    """The sc2_checkpoint.json of a checkpoint (unchecked: `verify.verify_checkpoint` checks a whole one)."""
    return json.loads((iteration_dir(root, iteration) / SC2_METADATA).read_text())


def write_metadata(directory: Path, iteration: int, model_config: ModelConfig, parallel: ParallelConfig,
                   common: dict, *, model_only: bool) -> None:
    meta = {
        "format": FORMAT,
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
        "tokenizer": common.get("tokenizer"),  # its record (data/tokenizer_record.py); none for an import
    }
    publish.write_text(directory / SC2_METADATA, json.dumps(meta, indent=2))


def write_marker(root: Path, iteration: int) -> None:
    publish.write_text(Path(root) / MARKER, f"{iteration}\n")


# How a full disk (or quota) shows in a failed save: OSError's text, each rank's in megatron-core's
# CheckpointException, and PyTorch's zip writer's short write ("unexpected pos 704 vs 598").
def failed_save_message(root: str | Path, iteration: int, error: BaseException, *, full: bool) -> str:
    """What a save that failed (each rank's failures, in megatron-core's CheckpointException) left:
    nothing published, and the checkpoints before it. `full`: its disk had no space left."""
    if full:
        cause, advice = "no space left on its disk (full, or over quota)", "free space there (or --save elsewhere)"
    else:
        failures = getattr(error, "failures", None)
        first = next(iter(failures.values()), None) if failures else (None if failures is not None else error)
        if isinstance(first, tuple):  # (exception, traceback), as torch's checkpoint reports a rank's failure
            first = first[0]
        cause, advice = (f"{type(first).__name__}: {first}" if first else "on another rank"), "see the log above"
    kept = latest_iteration(root)
    return (f"saving checkpoint iteration {iteration} to --save {root} failed, {cause}: nothing was published; "
            + (f"the last complete checkpoint, iteration {kept}, and those before it are intact" if kept
               else "no earlier checkpoint was saved") + f": {advice}, then rerun")


def output(root: str | Path, *, staging: Path | None = None, in_use: str = "is in use by another training job",
           advice: str = "stop that job or give this one another --save folder") -> publish.Output:
    """The ownership of a `--save` folder, which training and `convert_checkpoint import` take; its owner
    removes the `.partial` folders of interrupted saves."""
    return publish.Output(f"--save {root}", Path(root) / LOCK_FILE, without_locks=WITHOUT_LOCKS,
                          leftovers=f".{ITERATION_PREFIX}*{PARTIAL_SUFFIX}", staging=staging, in_use=in_use,
                          advice=advice, requeue_wait_s=REQUEUE_WAIT_S, log=log.warning)


def acquire(root: str | Path) -> publish.Output:
    """Own the `--save` folder `root`, or raise publish.OutputBusy naming the job that does."""
    owned = output(root)
    owned.acquire()
    return owned
