"""`python -m megatron_sc2.pretrain ... --dry-run --world-size N`: plan the launch, start nothing.

The planner's own flags are parsed here and taken out; the rest are the launch's, parsed and
validated by the same `parse_args` a real launch runs, at world size N.
"""

from __future__ import annotations

import argparse
import json
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
            "size N on a CPU and prints its memory and time per stage (docs/training.md, Planning a launch)")


def split_planning_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    """(the planner's options, the launch's arguments)."""
    options, rest = _parser().parse_known_args(argv)
    given = [flag for flag in PLANNER_FLAGS[1:] if any(a == flag or a.startswith(flag + "=") for a in argv)]
    if given and not options.dry_run:
        raise SystemExit(f"python -m megatron_sc2.pretrain: error: {given[0]} plans a launch: add --dry-run")
    problems = []
    if options.dry_run:
        if options.world_size is not None and options.world_size < 1:
            problems.append(f"--world-size {options.world_size} must be at least 1")
        if options.gpu_memory_gib <= 0:
            problems.append(f"--gpu-memory-gib {options.gpu_memory_gib:g} must be above 0")
        if not 0 < options.assumed_mfu <= 1:
            problems.append(f"--assumed-mfu {options.assumed_mfu:g} must be in (0, 1]")
    if problems:
        raise SystemExit("invalid planning options:\n  - " + "\n  - ".join(problems))
    return options, rest


def dry_run(options: argparse.Namespace, argv: list[str], world_size: int) -> int:
    """Plan; print the table (and write JSON); 0 when every stage fits on every rank, else 1."""
    warnings.simplefilter("ignore")  # megatron-core's notes on absent GPU kernels: a plan is for GPUs
    from megatron_sc2.data.tokenizer import load_tokenizer
    from megatron_sc2.planning.plan import plan_launch
    from megatron_sc2.planning.report import table, to_json
    from megatron_sc2.training.arguments import parse_args
    from megatron_sc2.training.trainer import with_tokenizer_vocab

    world_size = options.world_size or world_size
    run = parse_args(argv, world_size=world_size, data_files=True)  # every check a launch makes; all at once
    run = with_tokenizer_vocab(run, load_tokenizer(run.data.tokenizer_type, run.data.tokenizer_model))
    plan = plan_launch(run, world_size, gpu_memory_gib=options.gpu_memory_gib, assumed_mfu=options.assumed_mfu)
    print(table(plan, run), flush=True)
    if options.plan_output:
        options.plan_output.parent.mkdir(parents=True, exist_ok=True)
        options.plan_output.write_text(json.dumps(to_json(plan), indent=2) + "\n")
        print(f"plan written to {options.plan_output}", file=sys.stderr)
    return 0 if plan.fits else 1
