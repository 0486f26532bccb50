"""Writing a Megatron indexed dataset so that no failure leaves a pair that looks complete.

Everything is written in the owner's staging folder. Publishing removes the old `.idx` first, then renames
the tokenizer record, the manifest, the `.bin` and, last, the `.idx` into place.
"""

from __future__ import annotations

import glob
import json
import os
import socket
from collections.abc import Callable
from pathlib import Path

import numpy as np

from megatron_sc2.data.index_writer import IndexedDatasetWriter
from megatron_sc2.data.manifest import LabelCounts, manifest_path
from megatron_sc2.data.tokenizer_record import record_path
from megatron_sc2.publish import Output, WithoutLocks, rename_into_place, write_text


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
    record (none: the tokenizer is unknown, and an old record is removed) and its manifest, which adds
    `provenance` (the inputs and the command) to the counts and digests."""

    def __init__(self, prefix: str, dtype: type, staging: Path, record: dict | None, provenance: dict):
        self.bin, self.idx, self.record = Path(prefix + ".bin"), Path(prefix + ".idx"), record
        self.record_path, self.manifest_path = record_path(prefix), manifest_path(prefix)
        self.partial_bin, self.partial_idx = staging / self.bin.name, staging / self.idx.name
        self.staging, self.provenance = staging, provenance
        self.writer = IndexedDatasetWriter(self.partial_bin, dtype)
        self.labels = LabelCounts()

    def add(self, tokens: np.ndarray, labels: dict[str, str | None]) -> None:
        self.writer.add(tokens)
        self.labels.add(labels, len(tokens))

    def add_dataset(self, prefix: str, manifest: dict | None) -> None:
        """Append a whole finished dataset; without a manifest its documents count as unlabelled."""
        documents, tokens = self.writer.documents, self.writer.tokens
        self.writer.add_dataset(prefix)
        added = {"documents": self.writer.documents - documents, "tokens": self.writer.tokens - tokens}
        self.labels.add_manifest(manifest or added)

    def manifest(self) -> dict:
        return {
            "documents": self.writer.documents,
            "tokens": self.writer.tokens,
            **self.labels.to_dict(),
            "tokenizer": self.record,
            "dtype": self.writer.dtype.name,
            "bin_sha256": self.writer.bin_sha256,
            "idx_sha256": self.writer.idx_sha256,
            **self.provenance,
        }

    def publish(self) -> None:
        """The old .idx goes first and the new one comes last, so no moment shows an .idx beside a .bin or
        a record of another run."""
        self.writer.finalize(self.partial_idx)
        self.idx.unlink(missing_ok=True)
        if self.record is None:
            self.record_path.unlink(missing_ok=True)
        else:
            self._replace(self.record_path, self.record)
        self._replace(self.manifest_path, self.manifest())
        rename_into_place(self.partial_bin, self.bin)
        rename_into_place(self.partial_idx, self.idx)

    def _replace(self, path: Path, content: dict) -> None:
        write_text(path, json.dumps(content, indent=2) + "\n", staging=self.staging)

    def discard(self) -> None:
        """Close the files; the staging folder goes with the ownership."""
        self.writer.discard()
