"""Bad input is counted by reason and never written; too much of it, or any failure, publishes nothing."""

from __future__ import annotations

import gzip
import json
import logging
import random
from pathlib import Path

import pytest
from small_filesystems import tmpfs
from tool_module import tool_module

from megatron_sc2.data import preprocess as preprocess_module
from megatron_sc2.data.preprocess import BadInputError, PreprocessConfig, preprocess
from megatron_sc2.data.records import SKIP_REASONS

GOOD = ["def f():\n    return 1\n", "x = 'é'\n", "   \n"]
# One line per skip reason (the reason is the key), mixed in with good records.
BAD_LINES = {
    "not_utf8": b'{"content": "caf\xe9"}',
    "malformed_json": b'{"content": "unterminated',
    "unparsable_json": b'{"content": "x", "deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
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


def numbered_lines(lines: int, salt: bool = False) -> bytes:
    """Records `n = i`; with `salt`, a random hex string each, so that they compress to many blocks."""
    rng = random.Random(0)
    return b"".join(
        json.dumps({"content": f"n = {i}{f'  # {rng.getrandbits(128):x}' if salt else ''}\n"}).encode()
        + b"\n"
        for i in range(lines)
    )


def truncated_gzip(path: Path, lines: int) -> Path:
    data = gzip.compress(numbered_lines(lines))
    path.write_bytes(data[: len(data) // 2])
    return path


def test_every_bad_input_is_counted_and_skipped(tmp_path, sc2_tokenizer_dir, sc2_tokenizer):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    (tmp_path / "in").mkdir()
    corpus(tmp_path / "in" / "a.jsonl")
    truncated_gzip(tmp_path / "in" / "b.jsonl.gz", lines=2000)
    config = config_for(
        tmp_path, tmp_path / "in", tokenizer_model=str(sc2_tokenizer_dir), max_bad_fraction=1.0
    )
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
    return tool_module("preprocess_data.py")


def test_too_much_bad_input_fails_and_publishes_nothing(tmp_path, sc2_tokenizer_dir):
    source = corpus(tmp_path / "in.jsonl")
    config = config_for(tmp_path, source, tokenizer_model=str(sc2_tokenizer_dir), max_bad_fraction=0.2)
    with pytest.raises(BadInputError, match="max-bad-fraction"):
        preprocess(config, log=lambda line: None)
    assert dataset_files(tmp_path) == []
    stats = json.loads(Path(f"{config.output_prefix}_stats.json").read_text())
    assert not stats["complete"] and stats["bad_records"] == 7

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
    assert calls[0] == sorted(previous)  # the new dataset is built in the run's own staging folder
    assert [p.name for p in (tmp_path / "out").iterdir() if ".partial-" in p.name] == []
    assert {name: (tmp_path / "out" / name).read_bytes() for name in dataset_files(tmp_path)} == previous


def compressed_inputs(folder: Path) -> dict[str, int]:
    """Compressed files that are cut or corrupt, each with the lines a reader could get before the fault."""
    import zstandard

    folder.mkdir()
    frame = zstandard.ZstdCompressor(write_checksum=True).compress(numbered_lines(20_000, salt=True))
    (folder / "cut.jsonl.zst").write_bytes(frame[: len(frame) // 2])
    (folder / "cut-after-a-frame.jsonl.zst").write_bytes(frame + frame[:100])
    flipped = bytearray(frame)
    flipped[len(frame) // 2] ^= 0xFF
    (folder / "checksum.jsonl.zst").write_bytes(bytes(flipped))
    deflate = bytearray(gzip.compress(numbered_lines(20_000, salt=True)))
    deflate[len(deflate) // 2] ^= 0xFF  # zlib.error, not an OSError
    (folder / "deflate.jsonl.gz").write_bytes(bytes(deflate))
    return {"cut.jsonl.zst": 20_000, "cut-after-a-frame.jsonl.zst": 40_000, "checksum.jsonl.zst": 20_000,
            "deflate.jsonl.gz": 20_000}  # fmt: skip


def test_truncated_or_corrupt_compressed_input_is_a_corrupt_file(tmp_path, sc2_tokenizer_dir):
    complete = {}
    for name, lines in compressed_inputs(tmp_path / "in").items():
        config = config_for(tmp_path / name, tmp_path / "in" / name, tokenizer_model=str(sc2_tokenizer_dir),
                            max_bad_fraction=1.0)  # fmt: skip
        stats = preprocess(config, log=lambda line: None)
        assert stats.skipped["corrupt_file"] == 1, name
        complete[name] = stats.documents["content"] == lines
    assert not any(complete.values())


def test_multi_frame_zstd_is_read_whole(tmp_path, sc2_tokenizer_dir):
    import zstandard

    compress = zstandard.ZstdCompressor(write_checksum=True).compress
    source = tmp_path / "frames.jsonl.zst"
    source.write_bytes(compress(numbered_lines(2000)) + compress(numbered_lines(500)))
    config = config_for(tmp_path, source, tokenizer_model=str(sc2_tokenizer_dir))
    stats = preprocess(config, log=lambda line: None)
    assert stats.documents["content"] == 2500 and not stats.skipped


def test_records_beyond_parser_limits_are_bad_records(tmp_path, sc2_tokenizer_dir, sc2_tokenizer):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    source = tmp_path / "limits.jsonl"
    source.write_bytes(
        b'{"content": "a = 1\\n"}\n'
        + b'{"content": "b", "nested": ' + b"{\"k\": " * 50_000 + b"0" + b"}" * 50_000 + b"}\n"
        + b'{"content": "c", "n": ' + b"7" * 5000 + b"}\n"
        + b'{"content": "d = 2\\n"}\n'
    )  # fmt: skip
    config = config_for(tmp_path, source, tokenizer_model=str(sc2_tokenizer_dir), max_bad_fraction=1.0)
    stats = preprocess(config, log=lambda line: None)
    assert stats.skipped == {"unparsable_json": 2} and stats.bad_records == 2
    dataset = IndexedDataset(f"{config.output_prefix}_content_document")
    assert [dataset[i].tolist() for i in range(len(dataset))] == [
        sc2_tokenizer.encode(text) + [sc2_tokenizer.eod] for text in ("a = 1\n", "d = 2\n")
    ]


@pytest.mark.parametrize("suffix", [".jsonl", ".jsonl.gz", ".jsonl.zst"])
def test_a_byte_order_mark_keeps_the_first_record(tmp_path, sc2_tokenizer_dir, suffix):
    import zstandard

    data = b"\xef\xbb\xbf" + numbered_lines(3)
    compress = {".jsonl": bytes, ".jsonl.gz": gzip.compress, ".jsonl.zst": zstandard.compress}[suffix]
    source = tmp_path / f"bom{suffix}"
    source.write_bytes(compress(data))
    stats = preprocess(
        config_for(tmp_path, source, tokenizer_model=str(sc2_tokenizer_dir)), log=lambda line: None
    )
    assert stats.documents["content"] == 3 and not stats.skipped


def run_tool(argv, caplog) -> tuple[int, list[str]]:
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="megatron_sc2"):
        code = load_tool().main(argv)
    return code, [record.getMessage() for record in caplog.records if record.levelno >= logging.ERROR]


def tool_argv(inputs, prefix, tokenizer_dir, *extra) -> list[str]:
    return ["--input", *map(str, inputs), "--output-prefix", str(prefix), "--tokenizer-type", "HuggingFaceTokenizer",
            "--tokenizer-model", str(tokenizer_dir), *extra]  # fmt: skip


def test_input_without_documents_is_refused(tmp_path, sc2_tokenizer_dir, caplog):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "empty.jsonl").write_bytes(b"")
    (tmp_path / "in" / "blank.jsonl").write_bytes(b'{"content": ""}\n\n')
    for name in ("empty.jsonl", "blank.jsonl"):
        code, errors = run_tool(
            tool_argv([tmp_path / "in" / name], tmp_path / "out" / "c", sc2_tokenizer_dir), caplog
        )
        assert code == 1 and len(errors) == 1 and "no document for --json-keys content" in errors[0], errors
        assert dataset_files(tmp_path) == []


def test_outputs_that_would_clobber_or_feed_inputs_are_refused(tmp_path, sc2_tokenizer_dir, caplog):
    folder = tmp_path / "in"
    folder.mkdir()
    corpus(folder / "a.jsonl")
    (folder / "old_stats.json").write_text('{"content": "x = 1"}\n')
    cases = {
        "names a folder": ([folder / "a.jsonl"], f"{tmp_path / 'out'}/"),
        "inside the input folder": ([folder], folder / "sub" / "c"),
        "would overwrite the input": ([folder / "a.jsonl", folder / "old_stats.json"], folder / "old"),
    }
    for message, (inputs, prefix) in cases.items():
        code, errors = run_tool(tool_argv(inputs, prefix, sc2_tokenizer_dir), caplog)
        assert code == 1 and len(errors) == 1 and message in errors[0], errors
    assert sorted(p.name for p in folder.iterdir()) == ["a.jsonl", "old_stats.json"]
    assert (folder / "old_stats.json").read_text() == '{"content": "x = 1"}\n'
    assert not (tmp_path / "out").exists()


def test_a_json_key_named_twice_is_refused(tmp_path, sc2_tokenizer_dir, caplog):
    argv = tool_argv([corpus(tmp_path / "a.jsonl")], tmp_path / "out" / "c", sc2_tokenizer_dir,
                     "--json-keys", "content", "content")  # fmt: skip
    code, errors = run_tool(argv, caplog)
    assert code == 1 and errors == ["error: --json-keys names content more than once; name each key once"]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("kind", "expected"), [
    ("HuggingFaceTokenizer", "is not a Hugging Face tokenizer.json"),
    ("SentencePieceTokenizer", "is not a sentencepiece model"),
])
def test_a_tokenizer_model_that_is_a_corpus_is_refused_in_one_line(tmp_path, caplog, kind, expected):
    source = corpus(tmp_path / "a.jsonl")
    argv = ["--input", str(source), "--output-prefix", str(tmp_path / "out" / "c"), "--tokenizer-type", kind,
            "--tokenizer-model", str(source)]  # fmt: skip
    code, errors = run_tool(argv, caplog)
    assert code == 1 and len(errors) == 1 and errors[0].startswith(f"error: {source} {expected} ("), errors
    assert not (tmp_path / "out").exists() or dataset_files(tmp_path) == []


def test_an_output_prefix_that_cannot_be_written_is_one_line(tmp_path, sc2_tokenizer_dir, caplog):
    """An OSError of the output (here: a parent that is a file; a read-only or full file system alike) names
    the path and the cause."""
    (tmp_path / "file").write_text("")
    argv = tool_argv([corpus(tmp_path / "a.jsonl")], tmp_path / "file" / "sub" / "c", sc2_tokenizer_dir)
    code, errors = run_tool(argv, caplog)
    assert code == 1 and errors == [f"error: {tmp_path / 'file' / 'sub'}: Not a directory; nothing was published"], errors


@pytest.mark.parametrize("filesystem", ["full", "read-only"])
def test_an_output_prefix_on_a_file_system_that_refuses_it_is_one_line(tmp_path, sc2_tokenizer_dir, caplog,
                                                                      filesystem):
    source = tmp_path / "big.jsonl"  # ~1 MB of tokens: more than the full file system's 4 KiB
    source.write_text("".join(json.dumps({"content": f"def f{i}(x):\n    return x * {i}\n" * 20}) + "\n"
                              for i in range(2000)))
    with tmpfs(tmp_path / "mnt", size="4k", read_only=filesystem == "read-only") as mnt:
        code, errors = run_tool(tool_argv([source], mnt / "c", sc2_tokenizer_dir), caplog)
        cause = "No space left on device" if filesystem == "full" else "Read-only file system"
        assert code == 1 and len(errors) == 1 and cause in errors[0] and str(mnt) in errors[0], errors
        assert errors[0].endswith("nothing was published"), errors
        assert not list(mnt.glob("c_*.bin")) and not list(mnt.glob("c_*.idx"))
