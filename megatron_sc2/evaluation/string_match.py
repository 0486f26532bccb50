"""Tasks scored by comparing a completion with the reference as strings, not by running it (RepoBench,
CrossCodeEval, SantaCoder's infilling), and the edit similarity the repository-level benchmarks report.

`edit_similarity(a, b)` is `fuzz.ratio(a, b)` of fuzzywuzzy 0.18, the package both publishers' requirements
name, as it runs when installed from them: without python-Levenshtein, so on difflib's SequenceMatcher. It is
100 for equal strings (two empty ones too), 0 when one is empty, else round(100 * SequenceMatcher(None, a,
b).ratio()) with Python's round (half to even). The order of a and b matters: SequenceMatcher takes the
characters of a `b` of 200 or more that make up over 1% of it as junk.
"""

from __future__ import annotations

from difflib import SequenceMatcher

from megatron_sc2.evaluation.tasks import Problem, Task


def edit_similarity(a: str, b: str) -> int:
    if a == b:
        return 100
    if not a or not b:
        return 0
    return round(100 * SequenceMatcher(None, a, b).ratio())


class StringMatchTask(Task):
    """A task whose samples are scored by string_metrics() alone."""

    executes = False

    def program(self, problem: Problem, completion: str) -> None:
        return None
