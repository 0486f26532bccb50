"""megatron-core's indexed dataset (`.bin` + `.idx`) written in constant memory.

megatron-core's `IndexedDatasetBuilder` keeps every sequence length and document bound in Python
lists (about 40 bytes a document, in each partition and again in a merge) until `finalize`: The
Stack v2's hundreds of millions of files do not fit. This writer streams them to two scratch files
beside the `.bin` and assembles the same `.idx` (megatron-core's `_IndexWriter` format) chunk by
chunk; tests/data/test_index_writer.py compares it byte for byte with the builder's. It also hashes
what it writes, for the dataset's manifest, without reading anything twice.
"""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import numpy as np

from megatron_sc2.data.index_check import INDEX_MAGIC

CHUNK = 1 << 18  # index entries per read or write: a few MiB whatever the number of documents
COPY_BYTES = 16 << 20


class IndexedDatasetWriter:
    """Documents of one sequence each (`add`) or whole datasets (`add_dataset`) -> `.bin` now, `.idx` by
    `finalize`. `bin_sha256`/`idx_sha256` hold the files' digests once finalized."""

    def __init__(self, bin_path: Path, dtype: type):
        from megatron.core.datasets.indexed_dataset import DType

        self.dtype, self.code = np.dtype(dtype), DType.code_from_dtype(dtype)
        self.bin_path = Path(bin_path)
        self.data = open(self.bin_path, "wb")  # noqa: SIM115 (closed by finalize or discard)
        self.lengths = open(self.bin_path.with_name(self.bin_path.name + ".lengths"), "wb+")  # noqa: SIM115
        self.bounds = open(self.bin_path.with_name(self.bin_path.name + ".bounds"), "wb+")  # noqa: SIM115
        self.bin_hash = hashlib.sha256()
        self.sequences = self.documents = self.tokens = 0
        self.bin_sha256 = self.idx_sha256 = ""

    def add(self, tokens: np.ndarray) -> None:
        """One document of one sequence, as megatron-core's `add_document(tokens, [len(tokens)])`."""
        data = np.asarray(tokens, dtype=self.dtype).tobytes()
        self.data.write(data)
        self.bin_hash.update(data)
        self.lengths.write(struct.pack("<i", len(tokens)))
        self.sequences += 1
        self.documents += 1
        self.tokens += len(tokens)
        self.bounds.write(struct.pack("<q", self.sequences))

    def add_dataset(self, prefix: str) -> None:
        """Append a finished dataset, as megatron-core's `add_index`, reading its index in chunks."""
        from megatron.core.datasets.indexed_dataset import IndexedDataset

        index = IndexedDataset(prefix).index
        if index.dtype != self.dtype.type:
            raise ValueError(f"dataset {prefix} holds {index.dtype.__name__} tokens, not {self.dtype.name}")
        for start in range(0, len(index.sequence_lengths), CHUNK):
            chunk = np.asarray(index.sequence_lengths[start : start + CHUNK], dtype=np.int32)
            self.lengths.write(chunk.tobytes())
            self.tokens += int(chunk.sum(dtype=np.int64))
        bounds = index.document_indices[1:]
        for start in range(0, len(bounds), CHUNK):
            self.bounds.write((self.sequences + bounds[start : start + CHUNK].astype(np.int64)).tobytes())
        self.sequences += len(index.sequence_lengths)
        self.documents += len(bounds)
        del index
        with open(f"{prefix}.bin", "rb") as source:
            while block := source.read(COPY_BYTES):
                self.data.write(block)
                self.bin_hash.update(block)

    def finalize(self, idx_path: Path) -> None:
        """Close the `.bin` and write the `.idx`; the scratch files are removed."""
        self.data.close()
        self.bin_sha256 = self.bin_hash.hexdigest()
        idx_hash = hashlib.sha256()
        itemsize = np.int64(self.dtype.itemsize)
        with open(idx_path, "wb") as idx:

            def write(data: bytes) -> None:
                idx.write(data)
                idx_hash.update(data)

            write(INDEX_MAGIC + struct.pack("<QBQQ", 1, self.code, self.sequences, self.documents + 1))
            self._copy(self.lengths, write)
            self.lengths.seek(0)
            start = np.int64(0)  # byte offset of the next sequence
            while chunk := self.lengths.read(4 * CHUNK):
                lengths = np.frombuffer(chunk, dtype=np.int32).astype(np.int64) * itemsize
                ends = start + np.cumsum(lengths)
                write((ends - lengths).tobytes())
                start = ends[-1]
            write(struct.pack("<q", 0))
            self._copy(self.bounds, write)
        self.idx_sha256 = idx_hash.hexdigest()
        self.discard()

    @staticmethod
    def _copy(scratch, write) -> None:
        scratch.flush()
        scratch.seek(0)
        while block := scratch.read(COPY_BYTES):
            write(block)

    def discard(self) -> None:
        """Close every file and remove the scratch files (the `.bin` stays where it was written)."""
        for file in (self.data, self.lengths, self.bounds):
            file.close()
            if file is not self.data:
                Path(file.name).unlink(missing_ok=True)

