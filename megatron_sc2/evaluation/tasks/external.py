"""MBPP and MultiPL-E from files the user provides (`--data-dir`); the tool never downloads.

A file is used only if its sha256 is in `manifest.json` beside this module, so a score always
names exactly which data produced it. To add a file (a new MultiPL-E language, a re-release):
check it against its publisher, then add `"name.jsonl": {"sha256": ..., "source": ...}` to the
manifest in a reviewed commit; `sha256sum FILE` gives the sum.

    mbpp.jsonl           the original MBPP release (fields text, code, test_list, task_id); the
                         test split, task_ids 11-510, prompted as bigcode-evaluation-harness does
    multiple-LANG.jsonl  one MultiPL-E HumanEval translation (fields name, prompt, tests, stop_tokens)
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from megatron_sc2.data.special_tokens import EOD, FILE_SEP
from megatron_sc2.evaluation.tasks.base import Problem, Task

MANIFEST = Path(__file__).resolve().parent.parent / "manifest.json"
MBPP_STOPS = ("\nclass", "\nassert", '\n"""', "\nprint", "\nif", "\n<|/", "\n```", FILE_SEP, EOD)
MBPP_TEST_IDS = range(11, 511)


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(2**20):
            digest.update(chunk)
    return digest.hexdigest()


def verified_records(data_dir: Path, name: str, manifest: Path = MANIFEST) -> list[dict]:
    """The JSONL records of data_dir/name, after its sha256 matched the manifest."""
    path = Path(data_dir) / name
    if not path.is_file():
        raise ValueError(f"--data-dir {data_dir}: no {name} (this tool never downloads: put the file there)")
    expected = json.loads(manifest.read_text()).get(name, {}).get("sha256")
    if expected is None:
        raise ValueError(f"{path}: not in the manifest {manifest}; check the file against its publisher and add "
                         "its sha256 there (see docs/evaluation.md)")
    actual = sha256(path)
    if actual != expected:
        raise ValueError(f"{path}: sha256 {actual} differs from the manifest's {expected}: not the expected file")
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


class MBPP(Task):
    name = "mbpp"

    def __init__(self, data_dir: Path, manifest: Path = MANIFEST):
        self.records = [r for r in verified_records(data_dir, "mbpp.jsonl", manifest)
                        if r["task_id"] in MBPP_TEST_IDS]

    def problems(self) -> list[Problem]:
        return [Problem(str(r["task_id"]), f'"""\n{r["text"]}\n{r["test_list"][0]}\n"""\n', MBPP_STOPS, r["code"], r)
                for r in self.records]

    def program(self, problem: Problem, completion: str) -> str:
        tests = "\n".join(problem.data["test_list"])
        return f"{problem.prompt}{completion}\n{tests}\n"


class MultiPLE(Task):
    """One MultiPL-E language. Its problems have no reference solution (no oracle)."""

    def __init__(self, data_dir: Path, language: str, manifest: Path = MANIFEST):
        self.language = "python" if language == "py" else language
        self.name = f"multiple-{language}"
        self.records = verified_records(data_dir, f"{self.name}.jsonl", manifest)

    def problems(self) -> list[Problem]:
        return [Problem(r["name"], r["prompt"], (*r["stop_tokens"], FILE_SEP, EOD), "", r) for r in self.records]

    def program(self, problem: Problem, completion: str) -> str:
        return f"{problem.prompt}{completion}\n{problem.data['tests']}\n"
