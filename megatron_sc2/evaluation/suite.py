"""`--suite starcoder2`: the StarCoder2 paper's evaluation (arXiv 2402.19173, section 7) as one table:
its sections in the paper's order, each a list of (task, metric) rows. results.PAPER holds the
released models' figures for these rows.

A row names a task by its `--tasks` name; rows of tasks this checkout does not have (not in
tasks.TASKS) are left out, so a task joins the suite by being registered under its row's name.
"""

from __future__ import annotations

from dataclasses import dataclass

from megatron_sc2.evaluation.languages import LANGUAGES
from megatron_sc2.evaluation.tasks import TASKS, registry_key


@dataclass(frozen=True)
class Section:
    title: str
    rows: tuple[tuple[str, str], ...]  # (task, metric)


STARCODER2 = (
    Section("Code completion", (("humaneval", "pass@1"), ("humaneval-plus", "pass@1"), ("mbpp", "pass@1"),
                                ("mbpp-plus", "pass@1"))),
    Section("MultiPL-E", tuple((f"multiple-{key}", "pass@1") for key in LANGUAGES)),
    Section("Data science: DS-1000", (("ds1000", "pass@1"),)),
    Section("Code editing: HumanEvalFix, CanItEdit",
            (*((f"humanevalfix-{lang}", "pass@1") for lang in ("python", "js", "java", "go", "cpp", "rust")),
             ("canitedit", "descriptive_pass@1"), ("canitedit", "lazy_pass@1"))),
    Section("Math reasoning: GSM8K (PAL)", (("gsm8k-pal", "pass@1"),)),
    Section("Code reasoning: CRUXEval", (("cruxeval-i", "pass@1"), ("cruxeval-o", "pass@1"))),
    Section("Fill-in-the-middle: SantaCoder's benchmark (humaneval-infill: HumanEval's lines, not the paper's)",
            (("fim-py", "exact_match"), ("fim-java", "exact_match"), ("fim-js", "exact_match"),
             ("humaneval-infill", "exact_match"), ("humaneval-infill", "pass@1"))),
    Section("Repository-level completion: RepoBench v1.1, CrossCodeEval",
            (*((f"repobench-{lang}", metric) for lang in ("python", "java")
               for metric in ("exact_match", "edit_similarity")),
             *((f"crosscodeeval-{lang}", metric) for lang in ("python", "java", "typescript", "csharp")
               for metric in ("exact_match", "edit_similarity", "identifier_exact_match", "identifier_f1")))),
)
SUITES = {"starcoder2": STARCODER2}


def sections(suite: str) -> list[Section]:
    """The suite's sections, each with the rows of the tasks registered here (sections left empty go)."""
    kept = [Section(s.title, tuple(row for row in s.rows if registry_key(row[0]) in TASKS)) for s in SUITES[suite]]
    return [s for s in kept if s.rows]


def tasks(suite: str) -> list[str]:
    """The suite's task names, in table order."""
    return list(dict.fromkeys(task for s in sections(suite) for task, _ in s.rows))
