"""The shapes code datasets are published in, and the one record shape they all become.

Published shapes (each a `--schema` preset; `detect` names the one a Parquet file's columns fit):

    the-stack-v2        one row per file: blob_id, src_encoding, path, repo_name, star_events_count, ...
    the-stack-v2-train  one row per repository: repo_name, ..., `files`, a list of per-file structs
                        (the-stack-v2-train-full-ids, -smol-ids)
    stack-edu           one row per file: blob_id, src_encoding, path, repo_name, ... (HuggingFaceTB/stack-edu)
    content             rows that hold their `content` already (The Stack v3, bigcode/starcoder2data-extras)

Every record comes out in the names of curate.py's default schema (`content`, `id`, `path`, `repository`,
`stars`, `forks`, ...), which preprocess_data.py --repo-context reads too, other columns kept under their own
names, with `source` set, so that each source is its own dataset with its own manifest. The files of one
repository come out together, in the order published.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

# The Stack v2's column names -> curate.py's default schema's (megatron_sc2/curation/records.py)
RENAMES = {"blob_id": "id", "repo_name": "repository", "star_events_count": "stars", "fork_events_count": "forks"}
BLOB_FIELDS = ("blob_id", "src_encoding")  # what fetching an object needs


@dataclass(frozen=True)
class Shape:
    name: str
    per_repository: bool  # rows hold a `files` list
    fetched: bool  # contents come from Software Heritage (else rows hold `content`)
    required: tuple[str, ...]  # columns a file must have


SHAPES = {
    "the-stack-v2": Shape("the-stack-v2", False, True, ("blob_id", "src_encoding", "path", "repo_name")),
    "the-stack-v2-train": Shape("the-stack-v2-train", True, True, ("repo_name", "files")),
    "stack-edu": Shape("stack-edu", False, True, ("blob_id", "src_encoding", "path", "repo_name")),
    "content": Shape("content", False, False, ("content",)),
}


def detect(columns: list[str]) -> Shape:
    """The shape whose columns a file has; ValueError naming what is missing when none fits."""
    if "files" in columns:
        return SHAPES["the-stack-v2-train"]
    if "content" in columns:
        return SHAPES["content"]
    if "blob_id" in columns:
        return SHAPES["the-stack-v2"]
    raise ValueError(f"columns {', '.join(columns)} fit no published shape: expected `blob_id` and `src_encoding` "
                     "(per file), `files` (per repository) or `content`")


def check_columns(shape: Shape, columns: list[str], where: str) -> None:
    missing = [c for c in shape.required if c not in columns]
    if missing:
        raise ValueError(f"{where}: no column {', '.join(missing)}, which --schema {shape.name} needs: "
                         "give the --schema its columns fit, or leave --schema out to detect it")


def _plain(value):
    """JSON-writable: Parquet timestamps become ISO strings."""
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def file_records(shape: Shape, row: dict, source: str) -> list[dict]:
    """The files of one published row (one file, or one repository's), in the published column names."""
    row = {k: _plain(v) for k, v in row.items()}
    if not shape.per_repository:
        return [{**row, "source": source}]
    files = row.pop("files") or []
    row.pop("num_files", None)
    return [{**row, **file, "source": source} for file in files]


def renamed(record: dict) -> dict:
    """A record in curate.py's default schema's names; a name already taken keeps its own column."""
    out = {}
    for key, value in record.items():
        name = RENAMES.get(key, key)
        out[name if name not in record or name == key else key] = value
    return out
