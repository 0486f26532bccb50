"""RepoBench v1.1 (Liu et al. 2023): the next line of a file, given the file so far and snippets of the
repository's other files, in Python and Java (`repobench-python`, `repobench-java`), as Leolty/repobench
630c8658 runs it (run.py, data/utils.py, eval.py, evaluation/metrics.py).

- Records: the three settings (cross_file_first, cross_file_random, in_file) of the release's Parquet files,
  kept as run.py's defaults keep them: levels 2k to 16k, created from 2023-12-01 to 2023-12-31 00:00 UTC
  (pandas' bounds, both included). A problem's task_id is `SETTING/INDEX`, INDEX counting the kept records of
  its setting as run.py's `idx` does.
- Prompt: construct_prompt's pieces in StarCoder2's repository format: `<repo_name>REPO`, each snippet as
  `<file_sep>PATH\\nSNIPPET`, then `<file_sep>FILE_PATH\\nIMPORTS\\nCODE.rstrip()\\n` where construct_prompt has
  `# Repo Name:` / `# Path:` comment lines; runs of four or more newlines become two, as there. It does not
  drop cross-file lines to fit a token budget (construct_prompt does past 15,800 tokens of the model's
  tokenizer); levels up to 16k stay under 14,400 GPT-4 tokens.
- A generation is cut at `<|endoftext|>` and `<file_sep>`, then run.py keeps its first line that is not a
  comment (`get_first_line_not_comment`, its quirks included: a line opening a docstring or `/*` starts a
  comment that lasts to a line ending one).
- Metrics, per sample, averaged over all settings (eval.py's weighted average): `exact_match`, the
  whitespace-split tokens equal; `edit_similarity`, string_match.edit_similarity(reference, completion) / 100,
  in eval.py's argument order.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from megatron_sc2.data.special_tokens import EOD, FILE_SEP, REPO_NAME
from megatron_sc2.evaluation.string_match import StringMatchTask, edit_similarity
from megatron_sc2.evaluation.tasks import MANIFEST, Problem, Task, TaskData, stop_at, verified_records

# The release's files (huggingface.co/datasets/tianyang/repobench_LANGUAGE_v1.1, as uploaded on 2024-02-05),
# below --data-dir as `huggingface-cli download` lays them out.
FILES = {
    "python": ("cross_file_first-00000-of-00002-baebda7f3a6e980a.parquet",
               "cross_file_first-00001-of-00002-5780ed62c5162a3e.parquet",
               "cross_file_random-00000-of-00001-523c739d72005569.parquet",
               "in_file-00000-of-00001-9721c68f6224a587.parquet"),
    "java": ("cross_file_first-00000-of-00002-dff72983dd5b8697.parquet",
             "cross_file_first-00001-of-00002-3dd7fb93505dea96.parquet",
             "cross_file_random-00000-of-00002-646d3a97fc4c4438.parquet",
             "cross_file_random-00001-of-00002-fe9e6724cee36f1d.parquet",
             "in_file-00000-of-00002-175726bcd94b12f9.parquet",
             "in_file-00001-of-00002-c3b636f4dac4ab76.parquet"),
}
FIELDS = ("repo_name", "file_path", "context", "import_statement", "cropped_code", "next_line", "created_at",
          "level")
LEVELS = ("2k", "4k", "8k", "12k", "16k")
CREATED = (datetime(2023, 12, 1, tzinfo=UTC), datetime(2023, 12, 31, tzinfo=UTC))
STOPS = (EOD, FILE_SEP)
# line comment, what opens a block comment, what closes it (run.py's tests, by language)
COMMENTS = {"python": ("#", ('"""', "'''"), ('"""', "'''")), "java": ("//", ("/*",), ("*/",))}


def created(value) -> datetime:
    """A record's creation time, aware (UTC where the file gives none), from a string or a timestamp."""
    time = datetime.fromisoformat(value) if isinstance(value, str) else value
    return time if time.tzinfo else time.replace(tzinfo=UTC)


def prompt(record: dict) -> str:
    snippets = "".join(f"{FILE_SEP}{s['path']}\n{s['snippet']}" for s in record["context"])
    in_file = f"{FILE_SEP}{record['file_path']}\n{record['import_statement']}\n{record['cropped_code'].rstrip()}\n"
    return re.sub(r"\n{4,}", "\n\n", f"{REPO_NAME}{record['repo_name']}{snippets}{in_file}")


def first_code_line(code: str, language: str) -> str:
    """The first line of `code` that is not blank nor a comment (its first line when there is none)."""
    line_comment, opens, closes = COMMENTS[language]
    lines = code.lstrip("\n").split("\n")
    in_comment = False
    for line in lines:
        text = line.strip()
        if not text:
            continue
        if not in_comment and text.startswith(opens):
            in_comment = True
        elif in_comment and text.endswith(closes):
            in_comment = False
        elif not in_comment and not text.startswith(line_comment):
            return line
    return lines[0]


class RepoBench(StringMatchTask):
    def __init__(self, data_dir: Path, language: str, manifest: Path = MANIFEST):
        self.language, self.name = language, f"repobench-{language}"
        self.settings: dict[str, list[dict]] = {}
        for name in FILES[language]:
            records = verified_records(data_dir, f"repobench_{language}_v1.1/data/{name}", manifest, FIELDS)
            self.settings.setdefault(name.split("-")[0], []).extend(
                r for r in records if r["level"] in LEVELS and CREATED[0] <= created(r["created_at"]) <= CREATED[1])

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        return cls(data.directory(name), name.removeprefix("repobench-"), data.manifest)

    def problems(self) -> list[Problem]:
        return [Problem(f"{setting}/{i}", prompt(r), STOPS, r["next_line"], r)
                for setting, records in self.settings.items() for i, r in enumerate(records)]

    def postprocess(self, problem: Problem, generation: str) -> str:
        return first_code_line(stop_at(generation, problem.stops), self.language)

    def string_metrics(self, problem: Problem, completion: str) -> dict[str, float]:
        return {"exact_match": completion.split() == problem.reference.split(),
                "edit_similarity": edit_similarity(problem.reference, completion) / 100}
