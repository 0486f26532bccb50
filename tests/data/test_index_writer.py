"""The constant-memory index writer writes megatron-core's bytes and megatron-core reads them."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from megatron_sc2.data import index_writer
from megatron_sc2.data.index_writer import IndexedDatasetWriter


def documents(seed: int, count: int, vocab: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, vocab, rng.integers(1, 40)) for _ in range(count)]


def build_with_megatron(prefix, docs, dtype, merged=()):
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)
    for doc in docs:
        builder.add_document(doc, [len(doc)])
    for other in merged:
        builder.add_index(other)
    builder.finalize(f"{prefix}.idx")


def build_with_writer(prefix, docs, dtype, merged=()):
    writer = IndexedDatasetWriter(f"{prefix}.bin", dtype)
    for doc in docs:
        writer.add(doc)
    for other in merged:
        writer.add_dataset(other)
    writer.finalize(f"{prefix}.idx")
    return writer


def multi_sequence_dataset(prefix, dtype):
    """Documents of several sequences each, as Megatron-LM's sentence splitting writes."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=dtype)
    for doc in documents(3, 9, 100):
        builder.add_document(doc, [1, len(doc) - 1] if len(doc) > 1 else [1])
    builder.finalize(f"{prefix}.idx")


@pytest.mark.parametrize("dtype", [np.uint16, np.int32])
def test_same_bytes_as_megatron_core(tmp_path, monkeypatch, dtype):
    monkeypatch.setattr(index_writer, "CHUNK", 7)  # many chunks: offsets carry across them
    docs = documents(1, 50, 30000)
    multi_sequence_dataset(tmp_path / "multi", dtype)
    build_with_megatron(tmp_path / "part", docs[:20], dtype)
    merged = [str(tmp_path / "multi"), str(tmp_path / "part")]
    build_with_megatron(tmp_path / "theirs", docs, dtype, merged)
    writer = build_with_writer(tmp_path / "ours", docs, dtype, merged)
    for ext in (".bin", ".idx"):
        assert (tmp_path / f"ours{ext}").read_bytes() == (tmp_path / f"theirs{ext}").read_bytes(), ext
    assert writer.bin_sha256 == hashlib.sha256((tmp_path / "ours.bin").read_bytes()).hexdigest()
    assert writer.idx_sha256 == hashlib.sha256((tmp_path / "ours.idx").read_bytes()).hexdigest()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        f"{name}{ext}" for name in ("multi", "part", "theirs", "ours") for ext in (".bin", ".idx")
    ), "scratch files left behind"


def test_megatron_core_reads_it(tmp_path):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    docs = documents(2, 30, 2048)
    writer = build_with_writer(tmp_path / "ours", docs, np.uint16)
    dataset = IndexedDataset(str(tmp_path / "ours"))
    assert len(dataset) == len(docs) == writer.documents
    assert writer.tokens == sum(map(len, docs))
    for doc, read in zip(docs, dataset):
        np.testing.assert_array_equal(read, doc)


def test_empty_dataset_matches_megatron_core(tmp_path):
    build_with_megatron(tmp_path / "theirs", [], np.uint16)
    build_with_writer(tmp_path / "ours", [], np.uint16)
    assert (tmp_path / "ours.idx").read_bytes() == (tmp_path / "theirs.idx").read_bytes()
