"""Turning raw input records into document text, and naming what is wrong with the ones that fail.

A long preprocessing run must neither crash on one bad line nor write it: every failure has a
reason in `SKIP_REASONS`, which also says whether it counts as bad input (towards
`--max-bad-fraction`) or is a normal skip (empty files are common in code corpora).
"""

from __future__ import annotations

import json

from megatron_sc2.data.inputs import Record

# reason -> (what it means, counts as bad input)
SKIP_REASONS = {
    "not_utf8": ("line is not valid UTF-8", True),
    "malformed_json": ("line is not valid JSON", True),
    "unparsable_json": ("JSON nested too deeply or with an integer over 4,300 digits", True),
    "not_an_object": ("JSON value is not an object", True),
    "missing_key": ("a required key is absent", True),
    "wrong_type": ("a value is not a string", True),
    "invalid_unicode": ("a string holds lone surrogates, which have no UTF-8 form", True),
    "corrupt_file": ("an input file breaks off (truncated or corrupt); counted once per file", True),
    "blank_line": ("blank line", False),
    "empty": ("empty document (megatron-core's GPTDataset cannot sample one)", False),
    "oversized": ("document larger than --max-document-bytes", False),
}
BAD_REASONS = frozenset(reason for reason, (_, bad) in SKIP_REASONS.items() if bad)


class Skip(Exception):
    """A record, or one field of it, that is not written; `reason` is a key of SKIP_REASONS, `key` the
    absent key of a `missing_key`."""

    def __init__(self, reason: str, key: str | None = None):
        super().__init__(reason)
        self.reason, self.key = reason, key


def parse(record: Record) -> dict:
    """A JSON object from a raw JSONL line (Parquet rows pass through), or Skip."""
    if isinstance(record, dict):
        return record
    if not record.strip():
        raise Skip("blank_line")
    try:
        value = json.loads(record.decode("utf-8"))
    except UnicodeDecodeError:
        raise Skip("not_utf8") from None
    except json.JSONDecodeError:
        raise Skip("malformed_json") from None
    except (ValueError, RecursionError):  # Python's integer-digit and nesting limits
        raise Skip("unparsable_json") from None
    if not isinstance(value, dict):
        raise Skip("not_an_object")
    return value


def text_field(obj: dict, key: str, max_bytes: int | None = None, allow_empty: bool = False) -> str:
    """The string at `key`, checked to be writable as a document, or Skip."""
    if key not in obj:
        raise Skip("missing_key", key)
    text = obj[key]
    if not isinstance(text, str):
        raise Skip("wrong_type")
    if not text and not allow_empty:
        raise Skip("empty")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise Skip("invalid_unicode") from None
    if max_bytes is not None and size > max_bytes:
        raise Skip("oversized")
    return text
