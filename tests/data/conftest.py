"""Shared data fixtures: a code corpus from Python's standard library and a tokenizer trained on it.

Nothing is downloaded: every machine running the tests has these sources.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
STDLIB = Path(sysconfig.get_paths()["stdlib"])
# Packages whose sources make the corpus (about 1.9 MB of Python): each becomes one "repository".
STDLIB_PACKAGES = (
    "collections", "concurrent", "email", "html", "http", "importlib", "json",
    "logging", "tomllib", "urllib", "wsgiref", "xml", "xmlrpc", "zoneinfo",
)  # fmt: skip


def read_stdlib_records() -> list[dict]:
    """One record per source file: `content`, `path` (inside its package) and `repository`."""
    records = []
    for package in STDLIB_PACKAGES:
        root = STDLIB / package
        for file in sorted(root.rglob("*.py")):
            records.append(
                {
                    "content": file.read_text(encoding="utf-8"),
                    "path": file.relative_to(root).as_posix(),
                    "repository": f"cpython/{package}",
                }
            )
    return records


@pytest.fixture(scope="session", name="stdlib_records")
def stdlib_records_fixture() -> list[dict]:
    return read_stdlib_records()


@pytest.fixture(scope="session")
def stdlib_jsonl(tmp_path_factory, stdlib_records) -> Path:
    """A JSONL file of standard-library sources, one record per file."""
    path = tmp_path_factory.mktemp("stdlib") / "stdlib.jsonl"
    with path.open("w", encoding="utf-8") as out:
        for record in stdlib_records:
            out.write(json.dumps(record) + "\n")
    return path


@pytest.fixture(scope="session")
def sc2_tokenizer_dir(tmp_path_factory, stdlib_jsonl) -> Path:
    """A folder with a small StarCoder2-style tokenizer (tokenizer.json + transformers configs)."""
    folder = tmp_path_factory.mktemp("sc2_tokenizer")
    command = [
        sys.executable, str(REPO_ROOT / "tools" / "train_tokenizer.py"), str(stdlib_jsonl),
        "--output-dir", str(folder), "--vocab-size", "2048",
    ]  # fmt: skip
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    assert result.returncode == 0, f"train_tokenizer.py failed:\n{result.stdout}\n{result.stderr}"
    return folder


@pytest.fixture(scope="session")
def sc2_tokenizer(sc2_tokenizer_dir):
    """The fixture tokenizer loaded through `megatron_sc2.data.tokenizer`."""
    from megatron_sc2.data.tokenizer import load_tokenizer

    return load_tokenizer("HuggingFaceTokenizer", sc2_tokenizer_dir)
