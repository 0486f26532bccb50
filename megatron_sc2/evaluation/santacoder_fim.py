"""SantaCoder's single-line infilling benchmark (Allal et al. 2023), the StarCoder2 paper's infilling table:
one line of a HumanEval solution masked, in Python, JavaScript and Java (`fim-py`, `fim-js`, `fim-java`, the
dataset's language codes), as bigcode-evaluation-harness 8fc5bae6 runs it (`starcoder_fim`,
bigcode_eval/tasks/santacoder_fim.py).

- Records: the rows of bigcode/santacoder-fim-task (fields name, language, prompt, suffix, canonical_solution,
  tests) whose `language` is the task's, from `santacoder-fim-task.parquet` in --data-dir (docs/evaluation.md
  says which file of the Hub repository that is). A problem's task_id is the row's `name`.
- Prompt: `<fim_prefix>PROMPT<fim_suffix>SUFFIX<fim_middle>` (tasks.fim_prompt, PSM); a generation is cut at
  `<|endoftext|>`, `<|filename|>` or `<file_sep>`, not at a newline (humaneval-infill cuts there).
- Metric: `exact_match`, the stripped completion equals the stripped canonical solution (per language, as the
  harness's `LANG Exact Match`). The rows' tests are not run, as in the harness.
"""

from __future__ import annotations

from pathlib import Path

from megatron_sc2.data.special_tokens import EOD, FILE_SEP
from megatron_sc2.evaluation.string_match import StringMatchTask
from megatron_sc2.evaluation.tasks import (
    MANIFEST,
    Problem,
    Task,
    TaskData,
    fim_prompt,
    verified_records,
)

FILE = "santacoder-fim-task.parquet"
FIELDS = ("name", "language", "prompt", "suffix", "canonical_solution")
STOPS = (EOD, "<|filename|>", FILE_SEP)


class SantaCoderFIM(StringMatchTask):
    exact_match = True

    def __init__(self, data_dir: Path, language: str, manifest: Path = MANIFEST):
        self.name = f"fim-{language}"
        self.records = [r for r in verified_records(data_dir, FILE, manifest, FIELDS) if r["language"] == language]

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        return cls(data.directory(name), name.removeprefix("fim-"), data.manifest)

    def problems(self) -> list[Problem]:
        return [Problem(r["name"], fim_prompt(r["prompt"], r["suffix"], spm=False), STOPS, r["canonical_solution"], r)
                for r in self.records]
