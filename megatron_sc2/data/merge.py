"""Concatenating indexed datasets, e.g. the partitions of a multi-node preprocessing run."""

from __future__ import annotations

import glob
import logging
from collections.abc import Callable
from pathlib import Path

from megatron_sc2.data.dataset_writer import DatasetWriter, dataset_output
from megatron_sc2.data.index_check import IndexCounts, check_index
from megatron_sc2.data.manifest import read_manifest
from megatron_sc2.data.tokenizer_record import describe, read_record

logger = logging.getLogger(__name__)


def dataset_prefixes(inputs: list[str]) -> list[str]:
    """Dataset prefixes named directly, by glob, or as every `.idx` in a folder (sorted), each once."""
    prefixes: list[str] = []
    for item in inputs:
        if Path(item).is_dir():
            prefixes += sorted(str(p.with_suffix("")) for p in Path(item).glob("*.idx"))
            continue
        if glob.has_magic(item):  # a glob of prefixes, or of their files
            found = [m for m in glob.glob(item) + glob.glob(item + ".idx") if m.endswith((".bin", ".idx"))]
            matches = sorted({m.removesuffix(".idx").removesuffix(".bin") for m in found})
        else:
            matches = [item.removesuffix(".idx").removesuffix(".bin")]
        for prefix in matches:
            for suffix in (".bin", ".idx"):
                if not Path(prefix + suffix).is_file():
                    raise FileNotFoundError(f"dataset {prefix}: {prefix + suffix} does not exist")
            prefixes.append(prefix)
    prefixes = list(dict.fromkeys(prefixes))
    if not prefixes:
        raise FileNotFoundError(f"no datasets in {' '.join(inputs)}")
    return prefixes


def check_output(prefixes: list[str], output_prefix: str) -> None:
    """The output replaces its .bin/.idx: one of them an input's (by any path) would lose that input."""
    outputs = {Path(f"{output_prefix}{suffix}").resolve() for suffix in (".bin", ".idx")}
    for prefix in prefixes:
        if {Path(f"{prefix}{suffix}").resolve() for suffix in (".bin", ".idx")} & outputs:
            raise ValueError(f"--output-prefix {output_prefix} would overwrite the input {prefix}: choose "
                             "another output prefix")


def checked_index(prefix: str) -> IndexCounts:
    """A dataset whose .bin is not what its .idx says would be merged into one that fails in training."""
    try:
        return check_index(prefix)
    except ValueError as error:
        raise ValueError(f"dataset {prefix}: {error}; re-run the tool that wrote it") from None


def merged_record(prefixes: list[str], output_prefix: str, log: Callable[[str], None]) -> dict | None:
    """The tokenizer record of the merge: the inputs' one tokenizer; none if an input has no record."""
    records = {prefix: read_record(prefix) for prefix in prefixes}
    recorded = [(prefix, record) for prefix, record in records.items() if record is not None]
    first, first_record = recorded[0] if recorded else (None, None)
    for prefix, record in recorded[1:]:
        if record["sha256"] != first_record["sha256"]:
            raise ValueError(
                f"datasets from different tokenizers: {first} ({describe(first_record)}) and {prefix} "
                f"({describe(record)}); merge the datasets of one tokenizer"
            )
    unrecorded = [prefix for prefix, record in records.items() if record is None]
    if not unrecorded:
        return first_record
    log(f"{len(unrecorded)} of {len(prefixes)} dataset(s) have no tokenizer record (not written by "
        f"tools/preprocess_data.py), e.g. {unrecorded[0]}: {output_prefix} gets none")
    return None


def merge_datasets(
    prefixes: list[str], output_prefix: str, log: Callable[[str], None] = logger.info, command: list[str] = (),
    inputs: list[str] | None = None,
) -> None:
    """Write `output_prefix`.bin/.idx holding the documents of `prefixes`, in that order, their tokenizer
    record and the sum of their manifests, which records `command` and `inputs` (default: `prefixes`;
    a merge of partitions records the files they were made from)."""
    check_output(prefixes, output_prefix)
    dtypes = {prefix: checked_index(prefix).dtype for prefix in prefixes}
    record = merged_record(prefixes, output_prefix, log)
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"{prefix} ({dtype.__name__})" for prefix, dtype in dtypes.items())
        raise ValueError(f"datasets have different token dtypes (different tokenizers?): {listing}")
    manifests = {prefix: read_manifest(prefix) for prefix in prefixes}
    provenance = {"inputs": prefixes if inputs is None else inputs, "command": list(command)}
    with dataset_output(output_prefix, log) as lock:
        writer = DatasetWriter(output_prefix, dtypes[prefixes[0]], lock.staging, record, provenance)
        try:
            for prefix in prefixes:
                writer.add_dataset(prefix, manifests[prefix])
            lock.check_owner()
            writer.publish()
        except BaseException:
            writer.discard()
            raise
