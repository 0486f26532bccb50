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
from shared_artifacts import build_once

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
    """A folder with a small StarCoder2-style tokenizer (tokenizer.json + transformers configs), one per run."""

    def build(folder: Path) -> None:
        command = [
            sys.executable, str(REPO_ROOT / "tools" / "train_tokenizer.py"), str(stdlib_jsonl),
            "--output-dir", str(folder), "--vocab-size", "2048",
        ]  # fmt: skip
        result = subprocess.run(command, check=False, capture_output=True, text=True)
        assert result.returncode == 0, f"train_tokenizer.py failed:\n{result.stdout}\n{result.stderr}"

    return build_once(tmp_path_factory, "sc2_tokenizer", build, packages=STDLIB_PACKAGES, vocab_size=2048)


@pytest.fixture(scope="session")
def sc2_tokenizer(sc2_tokenizer_dir):
    """The fixture tokenizer loaded through `megatron_sc2.data.tokenizer`."""
    from megatron_sc2.data.tokenizer import load_tokenizer

    return load_tokenizer("HuggingFaceTokenizer", sc2_tokenizer_dir)


def repository_documents(records: list[dict], files_per_repository: int = 3) -> list[str]:
    """StarCoder2 repository-context documents (reference §4.1) from consecutive records of one
    repository; every other document carries the `<repo_name>` and path metadata."""
    from megatron_sc2.data.special_tokens import FILE_SEP, REPO_NAME

    documents = []
    by_repository: dict[str, list[dict]] = {}
    for record in records:
        by_repository.setdefault(record["repository"], []).append(record)
    for repository, files in by_repository.items():
        for start in range(0, len(files), files_per_repository):
            chunk = files[start : start + files_per_repository]
            if len(documents) % 2 == 0:
                body = "".join(f"{FILE_SEP}{f['path']}\n{f['content']}" for f in chunk)
                documents.append(f"{REPO_NAME}{repository}{body}")
            else:
                documents.append("".join(f"{FILE_SEP}{f['content']}" for f in chunk))
    return documents


def write_indexed_dataset(prefix: Path, documents: list[str], tokenizer) -> str:
    """Megatron `.bin`/`.idx` files, one document (EOD-terminated) per repository."""
    import numpy as np
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=np.uint16)
    for ids in tokenizer.encode_batch(documents):
        ids.append(tokenizer.eod)
        builder.add_document(np.array(ids, dtype=np.uint16), [len(ids)])
    builder.finalize(f"{prefix}.idx")
    return str(prefix)


@pytest.fixture(scope="session")
def stdlib_documents(stdlib_records) -> list[str]:
    """The stdlib corpus as 45 repository-context documents of up to three files."""
    return repository_documents(stdlib_records)


@pytest.fixture(scope="session")
def stdlib_indexed_dataset(tmp_path_factory, stdlib_documents, sc2_tokenizer) -> str:
    """The prefix of a Megatron dataset (`{prefix}.bin/.idx`) of the stdlib documents."""
    folder = tmp_path_factory.mktemp("indexed")
    return write_indexed_dataset(folder / "stdlib_content_document", stdlib_documents, sc2_tokenizer)


@pytest.fixture(scope="module")
def gloo_group(tmp_path_factory):
    """A one-process gloo group: megatron-core's dataset builder needs torch.distributed.

    Reuses the session's group when an earlier test (tests/conftest.py's single_process_group) started one.
    """
    import torch.distributed as dist

    if dist.is_initialized():
        yield
        return
    store = tmp_path_factory.mktemp("gloo") / "store"
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=0, world_size=1)
    yield
    dist.destroy_process_group()


@pytest.fixture(scope="session")
def shards(tmp_path_factory, stdlib_records) -> Path:
    """The corpus as 7 JSONL files of uneven size, files of a repository spread over several."""
    folder = tmp_path_factory.mktemp("shards")
    for shard in range(7):
        records = [labelled(r, i) for i, r in enumerate(stdlib_records[shard::7][: 10 + 12 * shard])]
        (folder / f"shard{shard}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def labelled(record: dict, number: int) -> dict:
    """The record with a source, and a language unless `number` is a multiple of 5 (that count as "(none)")."""
    labels = {"source": "docs" if number % 2 else "code"}
    if number % 5:
        labels["language"] = "Python" if number % 3 else "Cython"
    return {**record, **labels}
