"""Bad input is counted by reason and never written; too much of it, or any failure, publishes nothing."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from megatron_sc2.data import preprocess as preprocess_module
from megatron_sc2.data.preprocess import BadInputError, PreprocessConfig, preprocess
from megatron_sc2.data.records import SKIP_REASONS

REPO_ROOT = Path(__file__).resolve().parents[2]
GOOD = ["def f():\n    return 1\n", "x = 'é'\n", "   \n"]
# One line per skip reason (the reason is the key), mixed in with good records.
BAD_LINES = {
    "not_utf8": b'{"content": "caf\xe9"}',
    "malformed_json": b'{"content": "unterminated',
    "not_an_object": b'["content", "a list"]',
    "missing_key": b'{"text": "wrong key"}',
    "wrong_type": b'{"content": 42}',
    "invalid_unicode": b'{"content": "lone \\ud800 surrogate"}',
    "blank_line": b"   ",
    "empty": b'{"content": ""}',
    "oversized": json.dumps({"content": "y = 2\n" * 200}).encode(),
}


def corpus(path: Path) -> Path:
    lines = [json.dumps({"content": text}).encode() for text in GOOD]
    for i, line in enumerate(BAD_LINES.values()):
        lines.insert(1 + i % len(lines), line)
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


def config_for(tmp_path, input_path, **options) -> PreprocessConfig:
    return PreprocessConfig(
        inputs=[str(input_path)], output_prefix=str(tmp_path / "out" / "c"), tokenizer_type="HuggingFaceTokenizer",
        append_eod=True, **{"max_document_bytes": 1000, **options},
    )  # fmt: skip


def dataset_files(tmp_path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "out").iterdir() if ".bin" in p.name or ".idx" in p.name)


def truncated_gzip(path: Path, lines: int) -> Path:
    data = gzip.compress(
        b"".join(json.dumps({"content": f"n = {i}\n"}).encode() + b"\n" for i in range(lines))
    )
    path.write_bytes(data[: len(data) // 2])
    return path


def test_every_bad_input_is_counted_and_skipped(tmp_path, sc2_tokenizer_dir, sc2_tokenizer):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    corpus(tmp_path / "a.jsonl")
    truncated_gzip(tmp_path / "b.jsonl.gz", lines=2000)
    config = config_for(tmp_path, tmp_path, tokenizer_model=str(sc2_tokenizer_dir), max_bad_fraction=1.0)
    stats = preprocess(config, log=lambda line: None)

    assert set(SKIP_REASONS) == {*BAD_LINES, "corrupt_file"}
    assert dict(stats.skipped) == dict.fromkeys(SKIP_REASONS, 1)
    readable = stats.records - len(GOOD) - len(BAD_LINES) - 1  # records of the gzip before it breaks off
    assert 0 < readable < 2000
    assert stats.bad_records == sum(bad for _, bad in SKIP_REASONS.values())
    dataset = IndexedDataset(f"{config.output_prefix}_content_document")
    expected = GOOD + [f"n = {i}\n" for i in range(readable)]
    assert [dataset[i].tolist() for i in range(len(dataset))] == [
        sc2_tokenizer.encode(text) + [sc2_tokenizer.eod] for text in expected
    ]
    written = json.loads(Path(f"{config.output_prefix}_stats.json").read_text())
    assert written["complete"] and written["skipped"] == dict.fromkeys(SKIP_REASONS, 1)


def load_tool():
    spec = importlib.util.spec_from_file_location(
        "preprocess_data", REPO_ROOT / "tools" / "preprocess_data.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_too_much_bad_input_fails_and_publishes_nothing(tmp_path, sc2_tokenizer_dir):
    source = corpus(tmp_path / "in.jsonl")
    config = config_for(tmp_path, source, tokenizer_model=str(sc2_tokenizer_dir), max_bad_fraction=0.2)
    with pytest.raises(BadInputError, match="max-bad-fraction"):
        preprocess(config, log=lambda line: None)
    assert dataset_files(tmp_path) == []
    stats = json.loads(Path(f"{config.output_prefix}_stats.json").read_text())
    assert not stats["complete"] and stats["bad_records"] == 6

    argv = ["--input", str(source), "--output-prefix", config.output_prefix, "--tokenizer-type",
            "HuggingFaceTokenizer", "--tokenizer-model", str(sc2_tokenizer_dir), "--max-bad-fraction", "0.2"]  # fmt: skip
    assert load_tool().main(argv) == 1
    assert dataset_files(tmp_path) == []


def test_interrupted_run_leaves_the_previous_dataset_and_no_partial_one(
    tmp_path, stdlib_jsonl, sc2_tokenizer_dir, monkeypatch
):
    config = config_for(
        tmp_path, stdlib_jsonl, tokenizer_model=str(sc2_tokenizer_dir), max_document_bytes=None
    )
    preprocess(config, log=lambda line: None)
    previous = {name: (tmp_path / "out" / name).read_bytes() for name in dataset_files(tmp_path)}
    assert sorted(previous) == ["c_content_document.bin", "c_content_document.idx"]

    calls = []
    real_encode = preprocess_module.encode_documents

    def encode_then_interrupt(*args):
        calls.append(dataset_files(tmp_path))  # what a reader sees mid-run
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_encode(*args)

    monkeypatch.setattr(preprocess_module, "encode_documents", encode_then_interrupt)
    monkeypatch.setattr(preprocess_module, "BATCH_DOCUMENTS", 16)
    with pytest.raises(KeyboardInterrupt):
        preprocess(config, log=lambda line: None)
    assert calls[0] == sorted([*previous, "c_content_document.bin.partial"])
    assert {name: (tmp_path / "out" / name).read_bytes() for name in dataset_files(tmp_path)} == previous
