"""A real pipeline for training tests: stdlib code -> tokenizer -> repository-context dataset."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TOKENIZER_PACKAGES = ["json", "email", "logging", "http", "urllib", "collections"]


def run_tool(*args: str) -> None:
    result = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"


@pytest.fixture(scope="session")
def training_data(tmp_path_factory) -> dict:
    """Tokenizer folder, dataset prefix and index cache shared by the training tests."""
    root = tmp_path_factory.mktemp("training_data")
    corpus, sample = root / "stdlib.jsonl", root / "sample.jsonl"
    run_tool("tools/make_stdlib_corpus.py", str(corpus))  # ~200 repositories, one document each
    run_tool("tools/make_stdlib_corpus.py", str(sample), "--packages", *TOKENIZER_PACKAGES)
    run_tool("tools/train_tokenizer.py", str(sample), "--output-dir", str(root / "tokenizer"), "--vocab-size", "1024")
    run_tool("tools/preprocess_data.py", "--input", str(corpus), "--output-prefix", str(root / "stdlib"),
             "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", str(root / "tokenizer"),
             "--repo-context", "--workers", "2")
    return {"tokenizer": root / "tokenizer", "prefix": root / "stdlib_content_document", "cache": root / "cache"}
