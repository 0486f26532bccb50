"""One evaluation: the tasks asked for, on one model folder or one completions file, to --output."""

from __future__ import annotations

import json
import sys
from argparse import Namespace
from collections import defaultdict
from pathlib import Path

from megatron_sc2.evaluation import results
from megatron_sc2.evaluation.runner import score
from megatron_sc2.evaluation.sandbox import Limits, Sandbox, toolchain_missing
from megatron_sc2.evaluation.tasks.base import Task
from megatron_sc2.evaluation.tasks.external import MBPP, MultiPLE
from megatron_sc2.evaluation.tasks.humaneval import HumanEval
from megatron_sc2.evaluation.tasks.infill import HumanEvalInfill

GENERATION_TASKS = ("humaneval", "humaneval-infill", "humaneval-infill-spm")


class EvaluationError(Exception):
    pass


def make_task(name: str, data_dir: Path | None) -> Task:
    if name == "humaneval":
        return HumanEval()
    if name in ("humaneval-infill", "humaneval-infill-spm"):
        return HumanEvalInfill(spm=name.endswith("spm"))
    if name == "mbpp" or name.startswith("multiple-"):
        if data_dir is None:
            raise EvaluationError(f"--tasks {name} reads its file from --data-dir DIR (nothing is downloaded)")
        return MBPP(data_dir) if name == "mbpp" else MultiPLE(data_dir, name.removeprefix("multiple-"))
    raise EvaluationError(f"--tasks: unknown task {name!r}; choose from {', '.join(GENERATION_TASKS)}, "
                          "perplexity, mbpp, multiple-LANG")


def read_completions(path: Path) -> dict[tuple[str | None, str], list[str]]:
    """(task or None, task_id) -> completions, from --completions."""
    out: dict[tuple[str | None, str], list[str]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                out[record.get("task"), str(record["task_id"])].append(record["completion"])
            except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
                raise EvaluationError(f"--completions {path}:{number}: expected a JSON object with task_id and "
                                      "completion") from None
    return out


def _completions_for(task: Task, problems, given) -> list[list[str]]:
    found = []
    for p in problems:
        samples = given.get((task.name, p.task_id)) or given.get((None, p.task_id))
        if not samples:
            raise EvaluationError(f"--completions has no completion for {task.name} {p.task_id}")
        found.append(samples)
    return found


def evaluate(args: Namespace, model_dir: Path | None, output: Path) -> dict:
    """Run every task of args.tasks; write samples.jsonl and summary.json; print the table."""
    progress = not args.no_progress
    sandbox = None
    if args.allow_code_execution:
        sandbox = Sandbox(Limits(timeout_s=args.timeout, memory_mb=args.memory_mb), args.sandbox, args.workers)
        if sandbox.warning():
            print("\n" + "!" * 100 + "\n" + sandbox.warning() + "\n" + "!" * 100 + "\n", file=sys.stderr)
    generator = None
    if model_dir is not None:
        from megatron_sc2.evaluation.generation import Generator

        generator = Generator(model_dir, args.device, args.dtype)
    given = read_completions(args.completions) if getattr(args, "completions", None) else None
    metrics, records, skipped = {}, [], {}
    for name in args.tasks:
        if name == "perplexity":
            if generator is None or not args.perplexity_data:
                raise EvaluationError("--tasks perplexity needs --model (or --run) and --perplexity-data")
            from megatron_sc2.evaluation.perplexity import perplexity

            metrics[name] = perplexity(generator, args.perplexity_data, args.seq_length, args.perplexity_tokens,
                                       max(1, args.batch_size // 4), args.seed, progress)
            continue
        task = make_task(name, args.data_dir)
        if (why := toolchain_missing(task.language)) is not None and sandbox is not None:
            print(f"evaluate: skipping {name}: {why}", file=sys.stderr)
            skipped[name] = why
            continue
        problems = task.problems()[: args.limit]
        if given is not None:
            raw = _completions_for(task, problems, given)
        else:
            raw = _generate(generator, task, problems, args, progress)
        completions = [[task.postprocess(p, c) for c in samples] for p, samples in zip(problems, raw)]
        metrics[name], task_records = score(task, problems, completions, sandbox, args.k, progress)
        records += task_records
    summary = {
        "metrics": metrics,
        "skipped": skipped,
        "model": {"path": str(model_dir) if model_dir else None,
                  "weights_sha256": results.weights_sha256(model_dir) if model_dir else None},
        "completions": str(args.completions) if getattr(args, "completions", None) else None,
        "isolation": sandbox.isolation if sandbox else "no code executed",
        "generation": generator.stats.as_dict() if generator else None,
        "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        **results.provenance(),
    }
    results.write(output, summary, records)
    print(results.table(metrics))
    if generator is not None and generator.stats.samples:
        stats = generator.stats.as_dict()
        print(f"generation: {stats['samples']} samples, {stats['tokens_per_s']:.1f} tokens/s, "
              f"{stats['samples_per_s']:.2f} samples/s")
    print(f"isolation: {summary['isolation']}; wrote {output}/summary.json and samples.jsonl")
    return summary


def _generate(generator, task: Task, problems, args: Namespace, progress: bool) -> list[list[str]]:
    from megatron_sc2.evaluation.generation import GenerationConfig
    from megatron_sc2.evaluation.progress import Progress

    config = GenerationConfig(args.max_new_tokens, args.batch_size, args.temperature, args.top_p, args.seed)
    prompts = [p.prompt for p in problems for _ in range(args.n_samples)]
    stops = [p.stops for p in problems for _ in range(args.n_samples)]
    with Progress(len(prompts), f"{task.name}: generating", progress) as bar:
        flat = generator.generate(prompts, stops, config, on_batch=bar.advance)
    return [flat[i * args.n_samples:(i + 1) * args.n_samples] for i in range(len(problems))]
