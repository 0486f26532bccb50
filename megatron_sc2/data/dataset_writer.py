"""Writing a Megatron indexed dataset so that no failure leaves a pair that looks complete.

megatron-core's `IndexedDatasetBuilder` writes the files; this only chooses their names: the `.bin`
and `.idx` are built in the run's staging folder (see output_lock) and renamed into place once finished.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


def dataset_prefix(output_prefix: str, key: str) -> str:
    return f"{output_prefix}_{key}_document"


class DatasetWriter:
    """One `.bin/.idx` pair, built in `staging` and renamed into place by `publish`."""

    def __init__(self, prefix: str, dtype: type, staging: Path):
        from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

        self.bin, self.idx = Path(prefix + ".bin"), Path(prefix + ".idx")
        self.partial_bin, self.partial_idx = staging / self.bin.name, staging / self.idx.name
        self.builder = IndexedDatasetBuilder(str(self.partial_bin), dtype=dtype)

    def add(self, tokens: np.ndarray) -> None:
        self.builder.add_document(tokens, [len(tokens)])

    def publish(self) -> None:
        """The old .idx goes first, so no moment shows a new .bin beside an old .idx."""
        self.builder.finalize(str(self.partial_idx))
        self.idx.unlink(missing_ok=True)
        os.replace(self.partial_bin, self.bin)
        os.replace(self.partial_idx, self.idx)

    def discard(self) -> None:
        """Close the files; the staging folder goes with the lock."""
        self.builder.data_file.close()

    def add_dataset(self, prefix: str) -> None:
        """Append a whole finished dataset (megatron-core concatenates index and data)."""
        self.builder.add_index(prefix)
