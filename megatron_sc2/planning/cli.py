"""`python -m megatron_sc2.pretrain ... --dry-run --world-size N`: plan the launch, start nothing.

The planner's own flags are parsed here and taken out; the rest are the launch's, parsed and
validated by the same `parse_args` a real launch runs, at world size N, with the checks of a plan:
a plan needs the model and the layout only, so data, tokenizer and checkpoint folder may be left out
(a team plans before its data exists), and it says which were not given, so not checked.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from pathlib import Path

PLANNER_FLAGS = ("--dry-run", "--world-size", "--gpu-memory-gib", "--assumed-mfu", "--plan-output")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise SystemExit(f"python -m megatron_sc2.pretrain: error: {message}")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(add_help=False, allow_abbrev=False)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--world-size", type=int)
    parser.add_argument("--gpu-memory-gib", type=float, default=80.0)
    parser.add_argument("--assumed-mfu", type=float, default=0.45)
    parser.add_argument("--plan-output", type=Path)
    return parser


def help_text() -> str:
    return ("planning (no GPU, no process group): --dry-run --world-size N [--gpu-memory-gib 80] "
            "[--assumed-mfu 0.45] [--plan-output plan.json] builds the model of every pipeline rank at world "
            "size N on a CPU and prints its memory and time per stage; --data-path, --tokenizer-model and "
            "--save are optional (docs/training.md, Planning a launch)")


def split_planning_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """(the planner's options, the launch's arguments). The options' problems are in `.problems`:
    `dry_run` reports them together with the launch's."""
    options, rest = _parser().parse_known_args(argv)
    given = [flag for flag in PLANNER_FLAGS[1:] if any(a == flag or a.startswith(flag + "=") for a in argv)]
    if given and not options.dry_run:
        raise SystemExit(f"python -m megatron_sc2.pretrain: error: {given[0]} plans a launch: add --dry-run")
    options.problems = option_problems(options) if options.dry_run else []
    return options, rest


def option_problems(options: argparse.Namespace) -> list[str]:
    problems = []
    if options.world_size is not None and options.world_size < 1:
        problems.append(f"--world-size {options.world_size} must be at least 1")
    if not (math.isfinite(options.gpu_memory_gib) and options.gpu_memory_gib > 0):
        problems.append(f"--gpu-memory-gib {options.gpu_memory_gib:g} must be a number above 0")
    if not 0 < options.assumed_mfu <= 1:
        problems.append(f"--assumed-mfu {options.assumed_mfu:g} must be in (0, 1]")
    if options.plan_output is not None:
        problems += _unwritable(options.plan_output)
    return problems


def _unwritable(path: Path) -> list[str]:
    """Checked before planning, so that a plan of minutes is not lost to a path it cannot write."""
    if path.is_dir():
        return [f"--plan-output {path} is a folder: give a file path, e.g. {path / 'plan.json'}"]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        return [f"--plan-output {path}: {next(p for p in path.parents if p.exists())} is a file, not a folder"]
    except OSError as e:
        return [f"--plan-output {path}: cannot make its folder {path.parent} ({e.strerror})"]
    if not os.access(path.parent, os.W_OK):
        return [f"--plan-output {path}: its folder {path.parent} is not writable"]
    return []


def planned_run(argv: list[str], world_size: int | None):
    """(run, where its vocabulary came from, the options not given): the launch's arguments checked as
    a plan checks them, with the vocabulary a launch would have."""
    from megatron_sc2.data.tokenizer import load_tokenizer
    from megatron_sc2.training.arguments import parse_args
    from megatron_sc2.training.trainer import with_tokenizer_vocab

    run = parse_args(argv, world_size=world_size, plan=True)  # every check a launch makes; all at once
    data = run.data
    set_by = ("--vocab-size" if any(a == "--vocab-size" or a.startswith("--vocab-size=") for a in argv)
              else "vocab_size in --config or the --model file")
    if data.tokenizer_model:
        try:
            tokenizer = load_tokenizer(data.tokenizer_type, data.tokenizer_model)
        except (ValueError, OSError) as e:
            raise SystemExit(f"error: {e}") from None
        run = with_tokenizer_vocab(run, tokenizer)
        source = (f"the size of --tokenizer-model {data.tokenizer_model}" if run.vocab_from_tokenizer else
                  f"{set_by}; --tokenizer-model {data.tokenizer_model} has {tokenizer.vocab_size:,} tokens")
    elif run.vocab_from_tokenizer:
        source = "the model's default; no --tokenizer-model given, whose size a launch takes unless --vocab-size is set"
    else:
        source = set_by
    not_given = [flag for flag, value in (("--data-path", data.data_path), ("--tokenizer-model", data.tokenizer_model),
                                          ("--save", run.checkpoint.save)) if not value]
    return run, source, not_given


def make_plan(argv: list[str], world_size: int, *, gpu_memory_gib: float = 80.0, assumed_mfu: float = 0.45):
    """(plan, run) of the launch `argv` at `world_size`; when it does not fit, `plan.advice` names the
    first one-flag change that fits (each candidate planned in turn), or says that none does."""
    from megatron_sc2.planning.plan import candidate_changes, plan_launch

    run, vocabulary, not_given = planned_run(argv, world_size)
    plan = plan_launch(run, world_size, gpu_memory_gib=gpu_memory_gib, assumed_mfu=assumed_mfu)
    plan.vocabulary, plan.not_checked = vocabulary, not_given
    if plan.fits:
        return plan, run
    tried = []
    for change in candidate_changes(plan, run):
        try:
            changed, _, _ = planned_run(argv + change, world_size)
        except SystemExit:  # the change breaks the layout (a batch that no longer divides, ...)
            continue
        other = plan_launch(changed, world_size, gpu_memory_gib=gpu_memory_gib, assumed_mfu=assumed_mfu)
        if other.fits:
            plan.advice = f"fits with {' '.join(change)}: {other.headroom_gib:.1f} GiB headroom (planned)"
            return plan, run
        tried.append(" ".join(change))
    plan.advice = ("no single change fits" + (f" (planned: {'; '.join(tried)})" if tried else "")
                   + ": use GPUs with more memory, more GPUs, or a smaller model")
    return plan, run


def dry_run(options: argparse.Namespace, argv: list[str], world_size: int) -> int:
    """Plan; print the table (and write JSON); 0 when every stage fits on every rank, else 1."""
    warnings.simplefilter("ignore")  # megatron-core's notes on absent GPU kernels: a plan is for GPUs
    from megatron_sc2.planning.report import table, to_json
    from megatron_sc2.publish import write_text

    world_size = world_size if options.world_size is None else options.world_size
    if options.problems:  # with the launch's own problems, all in one round
        message = "invalid planning options:\n  - " + "\n  - ".join(options.problems)
        try:
            planned_run(argv, world_size if world_size >= 1 else None)
        except SystemExit as e:
            message += f"\n{e.code}"
        raise SystemExit(message)
    plan, run = make_plan(argv, world_size, gpu_memory_gib=options.gpu_memory_gib, assumed_mfu=options.assumed_mfu)
    print(table(plan, run), flush=True)
    if options.plan_output:
        try:
            write_text(options.plan_output, json.dumps(to_json(plan), indent=2) + "\n")
        except OSError as e:
            raise SystemExit(f"--plan-output {options.plan_output}: {e.strerror or e}") from None
        print(f"plan written to {options.plan_output}", file=sys.stderr)
    return 0 if plan.fits else 1
