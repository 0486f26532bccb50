"""What every generation task provides: problems to prompt with, and a program that checks a completion."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    task_id: str
    prompt: str  # what the model sees
    stops: tuple[str, ...]  # generation ends at the first of these; they are cut off
    reference: str  # a completion known to be right: the oracle
    data: dict = field(default_factory=dict, compare=False)  # what the task needs to check a completion


def stop_at(text: str, stops: tuple[str, ...]) -> str:
    """`text` up to the earliest stop sequence (bigcode-evaluation-harness's `_stop_at_stop_sequence`)."""
    cut = min((i for i in (text.find(s) for s in stops) if i != -1), default=len(text))
    return text[:cut]


class Task:
    """A benchmark: `problems()` to prompt with, `program()` to run a completion's tests.

    `language` names the toolchain the programs need (see sandbox.LANGUAGES)."""

    name: str
    language: str = "python"
    exact_match: bool = False  # also report whether the stripped completion equals the reference

    def problems(self) -> list[Problem]:
        raise NotImplementedError

    def postprocess(self, problem: Problem, generation: str) -> str:
        return stop_at(generation, problem.stops)

    def program(self, problem: Problem, completion: str) -> str:
        """The source file that runs to its end exactly when `completion` (continuing `prompt`) is right."""
        raise NotImplementedError

    def given(self, problem: Problem, completion: str) -> tuple[str, str]:
        """A completion read from --completions: (the completion as scored, its program). By default it
        continues `prompt` and is cut at the stops, as a generation is."""
        completion = self.postprocess(problem, completion)
        return completion, self.program(problem, completion)
