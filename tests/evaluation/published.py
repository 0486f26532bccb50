"""The publishers' files and code in the evaluation tests: a manifest that accepts a fixture cut from a
released file, that fixture refused in one line where the release is expected, and a publisher's modules
at a commit written out to import."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from megatron_sc2.evaluation import cli
from megatron_sc2.evaluation.tasks import make_task, sha256

# The publishers' task base classes load their dataset from the Hugging Face Hub; this stand-in keeps the
# stop words and loads nothing (the tests hand the task its records).
BASE_TASK = ("class Task:\n    def __init__(self, stop_words=None, requires_execution=True):\n"
             "        self.stop_words = stop_words\n")


def accepting_manifest(folder: Path, name: str) -> Path:
    """folder/manifest.json, which accepts folder/name as it is."""
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({name: {"sha256": sha256(folder / name)}}))
    return manifest


def assert_refused_in_one_line(folder: Path, capsys, task: str, fixture: Path, name: str) -> None:
    """tools/evaluate.py refuses the fixture given as the release in one line, and the task without --data-dir."""
    shutil.copy(fixture, folder / name)
    status = cli.main(["--completions", str(folder / "none.jsonl"), "--tasks", task, "--data-dir", str(folder),
                       "--output", str(folder / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err
    assert f"{folder / name}: sha256" in err and "differs from the manifest" in err, err
    with pytest.raises(ValueError, match=f"--tasks {task} reads its file from --data-dir DIR"):
        make_task(task, None)


def write_from_git(repo: Path, commit: str, files: dict[str, str], folder: Path) -> None:
    """folder/TARGET holds the repository's SOURCE at `commit`, for each TARGET: SOURCE of `files`."""
    for target, source in files.items():
        text = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{source}"], capture_output=True, text=True,
                              check=True).stdout
        (folder / target).parent.mkdir(parents=True, exist_ok=True)
        (folder / target).write_text(text)
