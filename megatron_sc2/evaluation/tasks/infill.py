"""HumanEval single-line infilling (InCoder, SantaCoder): each non-blank line of each canonical
solution masked in turn, 1033 problems, in StarCoder2's FIM format.

    PSM: <fim_prefix>prefix<fim_suffix>suffix<fim_middle>      -> the model writes the line
    SPM: <fim_prefix><fim_suffix>suffix<fim_middle>prefix      -> the layout `--fim-spm-rate` trains
                                                                 (data/fim.py), the line follows

prefix = prompt + the solution lines before, suffix = the lines after. The completion is cut at its
first newline; it scores by exact match (stripped) and by running the completed program's tests.
"""

from __future__ import annotations

from megatron_sc2.data.special_tokens import EOD, FILE_SEP, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from megatron_sc2.evaluation.tasks.base import Problem, Task
from megatron_sc2.evaluation.tasks.humaneval import load_problems, test_program

STOPS = ("\n", EOD, FILE_SEP, FIM_PREFIX, FIM_SUFFIX, FIM_MIDDLE)


def fim_prompt(prefix: str, suffix: str, spm: bool) -> str:
    if spm:
        return f"{FIM_PREFIX}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{prefix}"
    return f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"


class HumanEvalInfill(Task):
    exact_match = True

    def __init__(self, spm: bool = False):
        self.spm = spm
        self.name = "humaneval-infill-spm" if spm else "humaneval-infill"

    def problems(self) -> list[Problem]:
        problems = []
        for record in load_problems():
            lines = record["canonical_solution"].splitlines(keepends=True)
            for i, line in enumerate(lines):
                if not line.strip():
                    continue
                prefix, suffix = record["prompt"] + "".join(lines[:i]), "".join(lines[i + 1:])
                middle = line.removesuffix("\n")
                data = {**record, "prefix": prefix, "suffix": suffix}
                problems.append(Problem(f"{record['task_id']}/L{i}", fim_prompt(prefix, suffix, self.spm), STOPS,
                                        middle, data))
        return problems

    def program(self, problem: Problem, completion: str) -> str:
        return test_program(problem.data, f"{problem.data['prefix']}{completion}\n{problem.data['suffix']}")
