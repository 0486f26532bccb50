"""Which tokenizer made a dataset: `{prefix}.tokenizer-id.json` beside its `.bin`/`.idx`.

preprocess_data.py and merge_datasets.py write it; training and merging compare it with their
tokenizer (see `Tokenizer.identity`). Datasets written by Megatron-LM's tools have none.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from megatron_sc2.data.tokenizer import Tokenizer


def record_path(prefix: str) -> Path:
    return Path(f"{prefix}.tokenizer-id.json")


def tokenizer_record(tokenizer: Tokenizer) -> dict:
    return {"sha256": tokenizer.identity, "vocab_size": tokenizer.vocab_size,
            "type": type(tokenizer).__name__, "model": os.path.abspath(tokenizer.path)}


def read_record(prefix: str) -> dict | None:
    """The record of the dataset `prefix`, or None if it has none."""
    path = record_path(prefix)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
        if isinstance(record["sha256"], str) and isinstance(record["vocab_size"], int):
            return record
    except (ValueError, TypeError, KeyError):
        pass
    raise ValueError(f"{path} is not a tokenizer record (damaged?): re-run tools/preprocess_data.py, "
                     "or delete it to train without the check")


def describe(record: dict) -> str:
    return f"tokenizer {record['sha256'][:12]}, {record['vocab_size']:,} tokens"
