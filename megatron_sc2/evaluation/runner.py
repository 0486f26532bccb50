"""Scoring completions: run each through the sandbox, then pass@k (and exact match) per task."""

from __future__ import annotations

from collections.abc import Sequence

from megatron_sc2.evaluation.passk import DEFAULT_KS, mean_pass_at_k
from megatron_sc2.evaluation.progress import Progress
from megatron_sc2.evaluation.sandbox import Sandbox
from megatron_sc2.evaluation.tasks.base import Problem, Task


def score(task: Task, problems: Sequence[Problem], samples: Sequence[Sequence[tuple[str, str]]],
          sandbox: Sandbox | None, ks: Sequence[int] = DEFAULT_KS, progress: bool = True) -> tuple[dict, list[dict]]:
    """(metrics, one record per sample); a sample is (completion, the program that checks it). Without a
    sandbox (no --allow-code-execution) only the metrics that need no execution (exact match) are computed."""
    jobs = [(p, i, c, program) for p, drawn in zip(problems, samples) for i, (c, program) in enumerate(drawn)]
    records = [{"task": task.name, "task_id": p.task_id, "sample": i, "completion": c} for p, i, c, _ in jobs]
    metrics: dict = {"problems": len(problems), "n": min(map(len, samples), default=0)}
    if task.exact_match:
        for record, (p, _, c, _) in zip(records, jobs):
            record["exact_match"] = c.strip() == p.reference.strip()
        metrics["exact_match"] = sum(r["exact_match"] for r in records) / max(len(records), 1)
    if sandbox is None:
        return metrics, records
    with Progress(len(jobs), f"{task.name}: executing", progress) as bar:
        outcomes = sandbox.run_many([sandbox.program(task.language, program) for *_, program in jobs],
                                    on_done=bar.advance)
    passed: dict[str, list[bool]] = {}
    for record, (p, *_), outcome in zip(records, jobs, outcomes):
        record.update(passed=outcome.passed, error=outcome.error)
        passed.setdefault(p.task_id, []).append(outcome.passed)
    metrics.update(mean_pass_at_k(list(passed.values()), ks))
    metrics["k"] = [int(key.removeprefix("pass@")) for key in metrics if key.startswith("pass@")]
    return metrics, records
