"""Concatenating indexed datasets, e.g. the partitions of a multi-node preprocessing run."""

from __future__ import annotations

import glob
import logging
from collections.abc import Callable
from pathlib import Path

from megatron_sc2.data.dataset_writer import DatasetWriter
from megatron_sc2.data.output_lock import OutputLock

logger = logging.getLogger(__name__)


def dataset_prefixes(inputs: list[str]) -> list[str]:
    """Dataset prefixes named directly, by glob, or as every `.idx` in a folder (sorted), each once."""
    prefixes: list[str] = []
    for item in inputs:
        if Path(item).is_dir():
            prefixes += sorted(str(p.with_suffix("")) for p in Path(item).glob("*.idx"))
            continue
        matches = sorted(glob.glob(item)) if glob.has_magic(item) else [item]
        for match in matches:
            prefix = match.removesuffix(".idx").removesuffix(".bin")
            for suffix in (".bin", ".idx"):
                if not Path(prefix + suffix).is_file():
                    raise FileNotFoundError(f"dataset {prefix}: {prefix + suffix} does not exist")
            prefixes.append(prefix)
    prefixes = list(dict.fromkeys(prefixes))
    if not prefixes:
        raise FileNotFoundError(f"no datasets in {' '.join(inputs)}")
    return prefixes


def merge_datasets(prefixes: list[str], output_prefix: str, log: Callable[[str], None] = logger.info) -> None:
    """Write `output_prefix`.bin/.idx holding the documents of `prefixes`, in that order."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    dtypes = {prefix: IndexedDataset(prefix).index.dtype for prefix in prefixes}
    if len(set(dtypes.values())) > 1:
        listing = ", ".join(f"{prefix} ({dtype.__name__})" for prefix, dtype in dtypes.items())
        raise ValueError(f"datasets have different token dtypes (different tokenizers?): {listing}")
    if output_prefix in dtypes:
        raise ValueError(f"output {output_prefix} is also an input")
    with OutputLock(output_prefix, log) as lock:
        writer = DatasetWriter(output_prefix, dtypes[prefixes[0]], lock.staging)
        try:
            for prefix in prefixes:
                writer.add_dataset(prefix)
            lock.check_owner()
            writer.publish()
        except BaseException:
            writer.discard()
            raise
