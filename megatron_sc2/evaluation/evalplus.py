"""HumanEval+ and MBPP+ (EvalPlus, Liu et al. 2023): each problem's base inputs (the original
benchmark's tests) and EvalPlus's extra ones, a solution judged against the canonical solution's
outputs as EvalPlus 0.3.1 judges it (evalplus_check.py, run in the sandbox). Two checks per sample:
`base` (the original tests: the HumanEval / MBPP figure) and `plus` (the extra tests); a sample passes
(`pass@k`, the HumanEval+ / MBPP+ figure) when both do, `base_pass@k` counts `base` alone.

Files, from --data-dir, checked against manifest.json, as EvalPlus releases them:
    HumanEvalPlus.jsonl.gz  evalplus/humanevalplus_release, release v0.1.10 (EvalPlus 0.3.1's default)
    MbppPlus.jsonl.gz       evalplus/mbppplus_release, release v0.2.0 (EvalPlus 0.3.1's default)
Prompts and stops follow bigcode-evaluation-harness's `humanevalplus` (HumanEval's: the prompt stripped)
and `mbppplus` (MBPP's; the file's prompt is already `\"\"\"\\n{text}\\n{test}\\n\"\"\"\\n`). A completion
read from a file is in EvalPlus's samples format: `completion` continues the problem's prompt as given
(not stripped), `solution` is the whole program (scoring.Solution).
"""

from __future__ import annotations

import json
from pathlib import Path

from megatron_sc2.evaluation.evalplus_check import MAX_BUDGET
from megatron_sc2.evaluation.tasks import (
    HUMANEVAL_STOPS,
    MBPP_STOPS,
    FileTask,
    Problem,
    Solution,
)

CHECKER = (Path(__file__).resolve().parent / "evalplus_check.py").read_text(encoding="utf-8")
# A check program first runs the canonical solution (EvalPlus does that once, untimed), then the sample
# within EvalPlus's budget, min(60 s, the inputs' limits) + 2 s, which the checker enforces: the sandbox
# allows the canonical run as long again.
CHECK_SECONDS = 2 * (MAX_BUDGET + 2)


class EvalPlus(FileTask):
    checks = ("base", "plus")
    min_timeout_s = CHECK_SECONDS
    dataset: str  # EvalPlus's name: humaneval, mbpp
    file: str
    stops: tuple[str, ...]
    strip_prompt: bool

    def problems(self) -> list[Problem]:
        problems = []
        for record in self.records:
            prompt = record["prompt"].strip() if self.strip_prompt else record["prompt"]
            # the oracle continues the prompt as shown: after the whitespace stripping took off its end
            whitespace = record["prompt"][len(record["prompt"].rstrip()):] if self.strip_prompt else ""
            problems.append(Problem(record["task_id"], prompt, self.stops, whitespace + record["canonical_solution"],
                                    record))
        return problems

    def program(self, problem: Problem, completion: str) -> dict[str, str]:
        return self.checked(problem.data, problem.prompt + completion)

    def given(self, problem: Problem, completion: str) -> tuple[str, dict[str, str]]:
        """EvalPlus's samples: a `solution` is the program, a `completion` follows the prompt as given."""
        solution = completion if isinstance(completion, Solution) else problem.data["prompt"] + completion
        return completion, self.checked(problem.data, solution)

    def checked(self, record: dict, solution: str) -> dict[str, str]:
        """Per check, the program that ends normally exactly when EvalPlus says `pass`."""
        canonical = record["prompt"] + record["canonical_solution"]
        arguments = {check: json.dumps([self.dataset, record["task_id"], record["entry_point"], canonical, solution,
                                        record[f"{check}_input"], record["atol"]]) for check in self.checks}
        return {check: f"{CHECKER}\nimport json\ncheck(*json.loads({text!r}))\n" for check, text in arguments.items()}


class HumanEvalPlus(EvalPlus):
    name, dataset, file = "humaneval-plus", "humaneval", "HumanEvalPlus.jsonl.gz"
    stops, strip_prompt = HUMANEVAL_STOPS, True


class MbppPlus(EvalPlus):
    name, dataset, file = "mbpp-plus", "mbpp", "MbppPlus.jsonl.gz"
    stops, strip_prompt = MBPP_STOPS, False
