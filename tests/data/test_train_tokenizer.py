"""tools/train_tokenizer.py reads what preprocessing and curation read, and says when the vocabulary falls short."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

REPO_ROOT = Path(__file__).resolve().parents[2]


def train(*args) -> subprocess.CompletedProcess:
    command = [sys.executable, str(REPO_ROOT / "tools" / "train_tokenizer.py"), *map(str, args)]
    return subprocess.run(command, check=False, capture_output=True, text=True)


def test_every_input_format_of_preprocessing_trains_the_same_tokenizer(tmp_path, stdlib_records):
    records = stdlib_records[:40]
    lines = "".join(json.dumps(record) + "\n" for record in records).encode()
    (tmp_path / "c.jsonl").write_bytes(lines)
    (tmp_path / "c.jsonl.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "c.parquet")
    trained = {}
    for name in ("c.jsonl", "c.jsonl.gz", "c.jsonl.zst", "c.parquet"):
        result = train(tmp_path / name, "--output-dir", tmp_path / f"tok-{name}", "--vocab-size", 600)
        assert result.returncode == 0, result.stderr
        trained[name] = (tmp_path / f"tok-{name}" / "tokenizer.json").read_text()
    assert len(set(trained.values())) == 1


def test_a_vocabulary_smaller_than_asked_is_one_warning(tmp_path):
    corpus = tmp_path / "tiny.jsonl"
    corpus.write_text(json.dumps({"content": "def f(x):\n    return x + 1\n"}) + "\n")
    result = train(corpus, "--output-dir", tmp_path / "big", "--vocab-size", 49152)
    assert result.returncode == 0, result.stderr
    vocab_size = len(json.loads((tmp_path / "big" / "tokenizer.json").read_text())["model"]["vocab"])
    assert result.stderr == (
        f"train_tokenizer.py: warning: the vocabulary has {vocab_size:,} tokens, not the 49,152 asked for: the "
        "corpus is too small for that vocabulary (no pair of tokens is left to merge); train on more text or ask "
        "for a smaller --vocab-size\n"
    )
    result = train(corpus, "--output-dir", tmp_path / "fits", "--vocab-size", vocab_size)
    assert result.returncode == 0 and result.stderr == ""


def test_a_truncated_zstd_file_is_one_line_and_writes_nothing(tmp_path, stdlib_records):
    lines = "".join(json.dumps(record) + "\n" for record in stdlib_records[:20]).encode()
    whole = zstandard.ZstdCompressor().compress(lines)
    cut = tmp_path / "cut.jsonl.zst"
    cut.write_bytes(whole[: len(whole) // 2])
    result = train(cut, "--output-dir", tmp_path / "out")
    assert result.returncode != 0
    assert result.stderr.count("\n") == 1 and str(cut) in result.stderr and "truncated" in result.stderr
    assert not (tmp_path / "out").exists()
