"""Writing a Megatron indexed dataset so that no failure leaves a pair that looks complete.

megatron-core's `IndexedDatasetBuilder` writes the files; this only chooses their names: the `.bin`
and `.idx` are built in the run's staging folder (see `dataset_output`) and renamed into place once
finished, with the record of the tokenizer that made them (see tokenizer_record).
"""

from __future__ import annotations

import glob
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np

from megatron_sc2.data.tokenizer_record import record_path
from megatron_sc2.publish import Output, WithoutLocks, rename_into_place


def dataset_output(output_prefix: str, log: Callable[[str], None]) -> Output:
    """One run per output prefix: it owns `{prefix}.lock` and writes everything in its own
    `{prefix}.partial-HOST-PID/` folder. Two runs on one prefix would otherwise mix their bytes into a
    dataset that loads and is wrong; a filesystem without locks is refused."""
    name = Path(output_prefix).name
    return Output(
        output_prefix, Path(f"{output_prefix}.lock"), without_locks=WithoutLocks.REFUSE,
        leftovers=f"{glob.escape(name)}.partial-*",
        staging=Path(f"{output_prefix}.partial-{socket.gethostname()}-{os.getpid()}"),
        in_use="is being written by another run", advice="wait for it to end or choose another --output-prefix",
        log=log,
    )


def dataset_prefix(output_prefix: str, key: str) -> str:
    return f"{output_prefix}_{key}_document"


class DatasetWriter:
    """One `.bin/.idx` pair, built in `staging` and renamed into place by `publish` with its tokenizer
    record (none: the tokenizer is unknown, and an old record is removed)."""

    def __init__(self, prefix: str, dtype: type, staging: Path, record: dict | None):
        from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

        self.bin, self.idx, self.record = Path(prefix + ".bin"), Path(prefix + ".idx"), record
        self.record_path = record_path(prefix)
        self.partial_bin, self.partial_idx = staging / self.bin.name, staging / self.idx.name
        self.partial_record = staging / self.record_path.name
        self.builder = IndexedDatasetBuilder(str(self.partial_bin), dtype=dtype)

    def add(self, tokens: np.ndarray) -> None:
        self.builder.add_document(tokens, [len(tokens)])

    def publish(self) -> None:
        """The old .idx goes first and the new one comes last, so no moment shows an .idx beside a .bin or
        a record of another run."""
        self.builder.finalize(str(self.partial_idx))
        self.idx.unlink(missing_ok=True)
        if self.record is None:
            self.record_path.unlink(missing_ok=True)
        else:
            self.partial_record.write_text(json.dumps(self.record, indent=2) + "\n")
            rename_into_place(self.partial_record, self.record_path)
        rename_into_place(self.partial_bin, self.bin)
        rename_into_place(self.partial_idx, self.idx)

    def discard(self) -> None:
        """Close the files; the staging folder goes with the ownership."""
        self.builder.data_file.close()

    def add_dataset(self, prefix: str) -> None:
        """Append a whole finished dataset (megatron-core concatenates index and data)."""
        self.builder.add_index(prefix)
