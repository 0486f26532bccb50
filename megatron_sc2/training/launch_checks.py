"""What a launch needs of this machine and of its files, checked on every rank before any process group.

Their problems join the configuration's in arguments.validate, so that a job is refused once, with
every problem in one list, before any rank builds anything: the tokenizer loads, each --data-path
prefix is whole and made by that tokenizer, --save can be written, --load was trained with that
tokenizer, and this machine can run the layout and hold the run's state.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

from megatron_sc2.checkpoint import CheckpointError, latest_iteration, read_metadata
from megatron_sc2.data.tokenizer import TOKENIZER_TYPES, Tokenizer, load_tokenizer
from megatron_sc2.data.tokenizer_record import describe, tokenizer_record

if TYPE_CHECKING:
    from megatron_sc2.training.arguments import RunConfig
    from megatron_sc2.training.options import CheckpointOptions, DataOptions

GIB = 2**30

log = logging.getLogger("megatron_sc2.pretrain")


def file_problems(data: DataOptions, checkpoint: CheckpointOptions) -> tuple[Tokenizer | None, list[str]]:
    """The tokenizer (None if it cannot load) and what is wrong with the run's files."""
    tokenizer, problems = None, []
    if data.tokenizer_type in TOKENIZER_TYPES and data.tokenizer_model and Path(data.tokenizer_model).exists():
        try:
            tokenizer = load_tokenizer(data.tokenizer_type, data.tokenizer_model)
        except (OSError, ValueError, KeyError) as e:
            problems.append(f"--tokenizer-model: {e.args[0] if isinstance(e, KeyError) else e}")
    if data.data_path:
        problems += data_problems(data.data_path, tokenizer)
    if checkpoint.save:
        problems += save_problems(checkpoint.save)
    if checkpoint.load and tokenizer is not None:
        problems += load_problems(checkpoint.load, tokenizer, finetune=checkpoint.finetune)
    return tokenizer, problems


def missing_data_files(data_path: list[str] | None) -> list[str]:
    """Each prefix of the blend has its .bin and .idx (nothing is read)."""
    return [problem for prefix in _prefixes(data_path) if (problem := _missing(prefix))]


def data_problems(data_path: list[str], tokenizer: Tokenizer | None) -> list[str]:
    """Each prefix has its files, an index that matches its .bin, and (if it has one) its tokenizer's record."""
    from megatron_sc2.data.datasets import DatasetError, check_index, record_problem

    problems = []
    for prefix in _prefixes(data_path):
        problem = _missing(prefix)
        if problem is None:
            try:
                check_index(prefix)
            except DatasetError as e:
                problem = str(e)
        if problem is None and tokenizer is not None:
            problem = record_problem(prefix, tokenizer)
        if problem:
            problems.append(problem)
    return problems


def _prefixes(data_path: list[str] | None) -> list[str]:
    from megatron.core.datasets.utils import get_blend_from_list

    return list(dict.fromkeys(get_blend_from_list(list(data_path))[0])) if data_path else []  # each once


def _missing(prefix: str) -> str | None:
    files = [f"{prefix}{ext}" for ext in (".bin", ".idx") if not Path(f"{prefix}{ext}").is_file()]
    return f"--data-path {prefix}: no {' or '.join(files)} (tools/preprocess_data.py writes them)" if files else None


def save_problems(save: str) -> list[str]:
    """--save is a folder this process can write, or can be made in one (root ignores permissions, not a
    read-only filesystem)."""
    path = Path(save)
    existing = next(p for p in (path, *path.parents) if p.exists())
    where = f"--save {save}" + ("" if existing == path else f": {existing}")
    if not existing.is_dir():
        return [f"{where} is a file, not a folder: give --save a folder"]
    if not os.access(existing, os.W_OK | os.X_OK):
        why = "is on a read-only filesystem" if os.statvfs(existing).f_flag & os.ST_RDONLY else "is not writable"
        return [f"{where} {why}: give --save a folder this job can write"]
    return []


def load_problems(load: str, tokenizer: Tokenizer, *, finetune: bool) -> list[str]:
    """The checkpoint --load resumes was trained with this tokenizer; --finetune may change it (with a
    notice). A checkpoint that records none (an older one, an import) loads with a notice. A folder
    that is not a readable checkpoint is left to the load, which names what is wrong with it."""
    try:
        iteration = latest_iteration(load)
        saved = read_metadata(load, iteration).get("tokenizer") if iteration is not None else None
    except (CheckpointError, OSError, ValueError):
        return []
    if iteration is None:
        return []
    ours = tokenizer_record(tokenizer)
    if saved is None:
        log.info("--load %s records no tokenizer (saved by an older release, or imported): --tokenizer-model %s "
                 "is assumed to be the one it was trained with", load, tokenizer.path)
        return []
    if saved.get("sha256") == ours["sha256"]:
        return []
    if finetune:
        log.info("--finetune: %s was trained with %s (%s); training goes on with --tokenizer-model %s (%s)", load,
                 describe(saved), saved.get("model"), tokenizer.path, describe(ours))
        return []
    return [(f"--load {load} was trained with {describe(saved)} ({saved.get('model')}); --tokenizer-model "
            f"{tokenizer.path} is {describe(ours)}: give the tokenizer it was trained with, or add --finetune "
            f"to start from its weights with this one")]


def run_problems(run: RunConfig, tokenizer: Tokenizer | None, world_size: int, ranks_here: int) -> list[str]:
    """What this machine cannot run, and an embedding smaller than the tokenizer. (A recipe parses anywhere,
    so GPU recipes can be checked on a laptop; a launch must fit its machine.)"""
    import psutil
    import torch

    from megatron_sc2.model.layer_spec import transformer_engine_available
    from megatron_sc2.model.transformer_config import SEQUENCE_PARALLEL_NEEDS_TE

    problems = []
    if tokenizer is not None and not run.vocab_from_tokenizer and run.model.vocab_size < tokenizer.vocab_size:
        problems.append(f"--vocab-size {run.model.vocab_size} is below the {tokenizer.vocab_size} tokens of "
                        f"--tokenizer-model {tokenizer.path}: drop --vocab-size to follow the tokenizer")
    if run.parallel.sequence_parallel and not transformer_engine_available():
        problems.append(SEQUENCE_PARALLEL_NEEDS_TE)
    if not torch.cuda.is_available():
        try:
            per_rank = states_gib(run, world_size)
        except ValueError:  # a world size the layout does not divide: validate names it
            return problems
        machine = psutil.virtual_memory().total / GIB
        if per_rank * ranks_here > machine:
            problems.append(f"this run needs at least {per_rank * ranks_here:.1f} GiB ({ranks_here} rank(s) x "
                            f"{per_rank:.1f} GiB of weights, gradients and optimizer state) and this machine has "
                            f"{machine:.1f} GiB: choose a smaller --model, or plan it (--dry-run --world-size N)")
    return problems


def states_gib(run: RunConfig, world_size: int) -> float:
    """A lower bound of a rank's memory, cheap enough for every launch: its share of the weights, the fp32
    gradients, and Adam's fp32 moments and main weights (bf16), sharded by the distributed optimizer.
    The planner (megatron_sc2/planning) counts these from megatron-core's buffers, and the activations."""
    parallel, bf16 = run.parallel, run.optimizer.bf16
    optimizer = ((4 if bf16 else 0) + 8) / (parallel.data_parallel_size(world_size)
                                            if parallel.use_distributed_optimizer else 1)
    per_parameter = (2 if bf16 else 4) + 4 + optimizer
    model_parallel = parallel.tensor_model_parallel_size * parallel.pipeline_model_parallel_size
    return run.model.num_parameters() / model_parallel * per_parameter / GIB
