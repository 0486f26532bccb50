"""A real code dataset with no download, made by the repository's own tools as a user runs them.

Python's standard library as a JSONL corpus (tools/make_stdlib_corpus.py), a small tokenizer
trained on it (tools/train_tokenizer.py) and a repository-context indexed dataset
(tools/preprocess_data.py --repo-context). The tools are the checkout's, so this needs a source
checkout (`pip install -e .`): where the tests, benchmarks and tools are.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SMALL = ("json", "email", "logging", "http")  # the benchmarks' and acceptance tool's packages


def run_tool(script: str, *args, env: dict | None = None) -> None:
    """`python tools/SCRIPT ARGS` from the repository root; a failure raises with the tool's output."""
    result = subprocess.run([sys.executable, str(REPO / "tools" / script), *map(str, args)], capture_output=True,
                            text=True, cwd=REPO, env=env, check=False)
    if result.returncode:
        raise RuntimeError(f"tools/{script} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")


def stdlib_dataset(root: Path, packages: Sequence[str] | None = None, tokenizer_packages: Sequence[str] | None = None,
                   env: dict | None = None) -> dict:
    """Made once per `root`: the corpus of `packages` (default: all of the stdlib), a 1024-token
    tokenizer trained on `tokenizer_packages` (default: the same corpus) and its indexed dataset.
    Returns the paths: `corpus`, `tokenizer` (a folder), `prefix` (the dataset's, for --data-path)
    and `cache` (for --data-cache-path)."""
    root = Path(root)
    data = {"corpus": root / "stdlib.jsonl", "tokenizer": root / "tokenizer", "prefix": root / "stdlib_content_document",
            "cache": root / "cache"}
    if data["prefix"].with_suffix(".idx").is_file():
        return data
    root.mkdir(parents=True, exist_ok=True)
    run_tool("make_stdlib_corpus.py", data["corpus"], *(["--packages", *packages] if packages else []), env=env)
    sample = data["corpus"]
    if tokenizer_packages:
        sample = root / "tokenizer_sample.jsonl"
        run_tool("make_stdlib_corpus.py", sample, "--packages", *tokenizer_packages, env=env)
    run_tool("train_tokenizer.py", sample, "--output-dir", data["tokenizer"], "--vocab-size", 1024, env=env)
    run_tool("preprocess_data.py", "--input", data["corpus"], "--output-prefix", root / "stdlib", "--tokenizer-type",
             "HuggingFaceTokenizer", "--tokenizer-model", data["tokenizer"], "--repo-context", "--workers", 2, env=env)
    return data
