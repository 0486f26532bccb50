"""tools/preprocess_data.py end to end: what megatron-core reads back is Hugging Face's encoding + EOD."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from megatron_sc2.data.preprocess import PreprocessConfig, preprocess

REPO_ROOT = Path(__file__).resolve().parents[2]


def read_dataset(prefix) -> list[list[int]]:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    dataset = IndexedDataset(str(prefix))
    return [dataset[i].tolist() for i in range(len(dataset))]


def expected_documents(sc2_tokenizer, texts) -> list[list[int]]:
    """Megatron-LM's layout: every non-empty text, encoded by Hugging Face, then EOD."""
    return [ids + [sc2_tokenizer.eod] for ids in sc2_tokenizer.encode_batch([t for t in texts if t])]


def run(tmp_path, tokenizer_dir, inputs, **options) -> PreprocessConfig:
    config = PreprocessConfig(
        inputs=[str(i) for i in inputs], output_prefix=str(tmp_path / "out" / "corpus"),
        tokenizer_type="HuggingFaceTokenizer", tokenizer_model=str(tokenizer_dir), append_eod=True,
        **{"workers": 2, **options},
    )  # fmt: skip
    preprocess(config, log=lambda line: None)
    return config


def test_cli_end_to_end(tmp_path, stdlib_jsonl, stdlib_records, sc2_tokenizer_dir, sc2_tokenizer):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    prefix = tmp_path / "stdlib"
    command = [
        sys.executable, str(REPO_ROOT / "tools" / "preprocess_data.py"), "--input", str(stdlib_jsonl),
        "--output-prefix", str(prefix), "--tokenizer-type", "HuggingFaceTokenizer",
        "--tokenizer-model", str(sc2_tokenizer_dir), "--append-eod", "--workers", "2", "--log-interval", "100",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "tiktoken" in result.stderr and "tokens/s" in result.stderr and "ETA" in result.stderr

    dataset = IndexedDataset(f"{prefix}_content_document")
    assert dataset.index.dtype == np.uint16  # vocab 2048 < 65500, as Megatron-LM chooses
    assert read_dataset(f"{prefix}_content_document") == expected_documents(
        sc2_tokenizer, [r["content"] for r in stdlib_records]
    )
    stats = json.loads(Path(f"{prefix}_stats.json").read_text())
    empty = sum(not r["content"] for r in stdlib_records)
    assert stats["complete"] and stats["records"] == len(stdlib_records)
    assert stats["documents"] == {"content": len(stdlib_records) - empty}
    assert stats["skipped"] == ({"empty": empty} if empty else {})
    assert stats["tokens"]["content"] == len(np.concatenate([dataset[i] for i in range(len(dataset))]))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "stdlib_content_document.bin", "stdlib_content_document.idx", "stdlib_content_document.manifest.json",
        "stdlib_content_document.tokenizer-id.json", "stdlib_stats.json",
    ]  # fmt: skip
    record = json.loads(Path(f"{prefix}_content_document.tokenizer-id.json").read_text())
    assert record == {"sha256": sc2_tokenizer.identity, "vocab_size": 2048, "type": "HuggingFaceTokenizer",
                      "model": str(sc2_tokenizer_dir)}
    manifest = json.loads(Path(f"{prefix}_content_document.manifest.json").read_text())
    digests = {f"{ext}_sha256": hashlib.sha256(Path(f"{prefix}_content_document.{ext}").read_bytes()).hexdigest()
               for ext in ("bin", "idx")}
    assert manifest == {
        "documents": len(dataset), "tokens": stats["tokens"]["content"], "tokenizer": record, "dtype": "uint16",
        **digests, "inputs": [str(stdlib_jsonl)], "command": command[1:],
    }  # fmt: skip


def test_compressed_and_parquet_inputs_equal_jsonl(tmp_path, stdlib_records, sc2_tokenizer_dir):
    import pyarrow as pa
    import pyarrow.parquet as pq
    import zstandard

    records = stdlib_records[:60]
    lines = b"".join(json.dumps(r).encode() + b"\n" for r in records)
    (tmp_path / "a.jsonl").write_bytes(lines)
    (tmp_path / "b.jsonl.gz").write_bytes(gzip.compress(lines))
    (tmp_path / "c.jsonl.zst").write_bytes(zstandard.ZstdCompressor().compress(lines))
    pq.write_table(pa.Table.from_pylist(records), tmp_path / "d.parquet", row_group_size=16)

    outputs = {}
    for name in ("a.jsonl", "b.jsonl.gz", "c.jsonl.zst", "d.parquet"):
        config = run(tmp_path / name.replace(".", "_"), sc2_tokenizer_dir, [tmp_path / name])
        outputs[name] = read_dataset(f"{config.output_prefix}_content_document")
    assert outputs["a.jsonl"] and all(output == outputs["a.jsonl"] for output in outputs.values())


def test_several_inputs_globs_and_keys(tmp_path, stdlib_records, sc2_tokenizer_dir, sc2_tokenizer):
    records = stdlib_records[:30]
    for part in range(3):
        with open(tmp_path / f"part{part}.jsonl", "w") as out:
            out.writelines(json.dumps(record) + "\n" for record in records[part::3])
    config = run(tmp_path, sc2_tokenizer_dir, [tmp_path / "part0.jsonl", tmp_path / "part[12].jsonl"],
                 json_keys=["content", "path"])  # fmt: skip
    ordered = [r for part in range(3) for r in records[part::3]]
    for key in ("content", "path"):
        assert read_dataset(f"{config.output_prefix}_{key}_document") == expected_documents(
            sc2_tokenizer, [r[key] for r in ordered]
        )


def test_literal_special_tokens_are_encoded_like_megatron_lm(tmp_path, sc2_tokenizer_dir, sc2_tokenizer):
    texts = ["print('<file_sep>')\n", "a<|endoftext|>b", "<repo_name>x<file_sep>y"]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"content": t}) + "\n" for t in texts))
    config = run(tmp_path, sc2_tokenizer_dir, [tmp_path / "in.jsonl"])
    assert read_dataset(f"{config.output_prefix}_content_document") == expected_documents(
        sc2_tokenizer, texts
    )


def test_cli_rejects_bad_arguments(tmp_path, sc2_tokenizer_dir):
    base = [sys.executable, str(REPO_ROOT / "tools" / "preprocess_data.py"), "--output-prefix", str(tmp_path / "x"),
            "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", str(sc2_tokenizer_dir)]  # fmt: skip
    missing = subprocess.run(
        base + ["--input", str(tmp_path / "nope.jsonl")], capture_output=True, text=True, check=False
    )
    assert missing.returncode == 1 and "nope.jsonl" in missing.stderr
    partition = subprocess.run(
        base + ["--input", "x", "--partition-index", "2", "--num-partitions", "2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert partition.returncode == 2 and "--partition-index" in partition.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("workers", [1, 3])
def test_worker_count_does_not_change_output(tmp_path, stdlib_jsonl, sc2_tokenizer_dir, workers):
    reference = run(tmp_path / "ref", sc2_tokenizer_dir, [stdlib_jsonl], workers=2)
    config = run(tmp_path / "w", sc2_tokenizer_dir, [stdlib_jsonl], workers=workers)
    assert (Path(f"{config.output_prefix}_content_document.bin").read_bytes()
            == Path(f"{reference.output_prefix}_content_document.bin").read_bytes())  # fmt: skip


def test_unsupported_tokenizer_falls_back_to_hugging_face(tmp_path, stdlib_records, sc2_tokenizer_dir):
    from megatron_sc2.data.tokenizer import load_tokenizer

    config = json.loads((sc2_tokenizer_dir / "tokenizer.json").read_text())
    config["pre_tokenizer"]["pretokenizers"][0]["individual_digits"] = False  # no equivalent regex
    (tmp_path / "tok").mkdir()
    (tmp_path / "tok" / "tokenizer.json").write_text(json.dumps(config))
    tokenizer = load_tokenizer("HuggingFaceTokenizer", tmp_path / "tok")
    texts = [r["content"] for r in stdlib_records[:20]] + ["x  = 12345 + 6"]
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"content": t}) + "\n" for t in texts))

    messages = []
    preprocess(
        PreprocessConfig(inputs=[str(tmp_path / "in.jsonl")], output_prefix=str(tmp_path / "out"),
                         tokenizer_type="HuggingFaceTokenizer", tokenizer_model=str(tmp_path / "tok"),
                         append_eod=True, workers=2),
        log=messages.append,
    )  # fmt: skip
    assert any("fast tokenizer path unavailable" in m and "pre-tokenizer" in m for m in messages)
    assert read_dataset(tmp_path / "out_content_document") == expected_documents(tokenizer, texts)
