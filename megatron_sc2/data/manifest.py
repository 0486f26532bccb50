"""What a dataset holds: `{prefix}.manifest.json` beside its `.bin`/`.idx`.

tools/preprocess_data.py and tools/merge_datasets.py write it (a merge sums its inputs'); the
mixture tool (tools/blend_data_path.py) turns manifests and target token shares into `--data-path`
weights, and training logs each blended prefix's counts. The tokenizer stays recorded in its own
`{prefix}.tokenizer-id.json` (tokenizer_record), which training's start-up check reads; the manifest
carries a copy, so a mixture of manifests can refuse mixed tokenizers by itself.
"""

from __future__ import annotations

import functools
import json
import logging
from collections import Counter
from pathlib import Path

from megatron_sc2.data.index_check import check_index

logger = logging.getLogger(__name__)

NO_LABEL = "(none)"  # records without the language or source key
LABELS = ("language", "source")


def manifest_path(prefix: str) -> Path:
    return Path(f"{prefix}.manifest.json")


class LabelCounts:
    """Documents and tokens per language and per source, for the labels the records carry."""

    def __init__(self):
        self.counts = {label: {"documents": Counter(), "tokens": Counter()} for label in LABELS}
        self.seen = set()  # labels some record carried

    def add(self, labels: dict[str, str | None], tokens: int) -> None:
        for label in LABELS:
            value = labels.get(label)
            if value is not None:
                self.seen.add(label)
            counts = self.counts[label]
            counts["documents"][value or NO_LABEL] += 1
            counts["tokens"][value or NO_LABEL] += tokens

    def add_manifest(self, manifest: dict) -> None:
        """A whole dataset's counts; a label its manifest lacks counts all of it as NO_LABEL."""
        for label in LABELS:
            entries = manifest.get(f"by_{label}", {NO_LABEL: manifest})
            self.seen.update([label] if f"by_{label}" in manifest else [])
            for value, entry in entries.items():
                self.counts[label]["documents"][value] += entry["documents"]
                self.counts[label]["tokens"][value] += entry["tokens"]

    def to_dict(self) -> dict:
        return {
            f"by_{label}": {
                value: {"documents": counts["documents"][value], "tokens": counts["tokens"][value]}
                for value in sorted(counts["tokens"])
            }
            for label, counts in self.counts.items()
            if label in self.seen
        }


def read_manifest(prefix: str) -> dict | None:
    """The manifest of `prefix`, or None if it has none (datasets of Megatron-LM's tools); ValueError if it is
    damaged, or if its counts are not those of the .bin/.idx beside it (index_check)."""
    path = manifest_path(prefix)
    if not path.is_file():
        return None
    redo = "re-run tools/preprocess_data.py or tools/merge_datasets.py for this prefix"
    try:
        manifest = json.loads(path.read_text())
        valid = isinstance(manifest["documents"], int) and isinstance(manifest["tokens"], int)
    except (ValueError, TypeError, KeyError):
        valid = False
    if not valid:
        raise ValueError(f"{path} is not a dataset manifest (damaged?): {redo}")
    index = check_index(prefix)
    said, holds = (manifest["documents"], manifest["tokens"]), (index.documents, index.tokens)
    if said != holds:
        raise ValueError(f"{path} says {said[0]:,} documents and {said[1]:,} tokens, but {prefix}.idx holds "
                         f"{holds[0]:,} and {holds[1]:,} (edited, or of another run): {redo}")
    return manifest


def summary(prefix: str, manifest: dict) -> str:
    """One line: the prefix's documents and tokens, and its largest languages by tokens."""
    line = f"{prefix}: {manifest['documents']:,} documents, {manifest['tokens']:,} tokens"
    languages = sorted(manifest.get("by_language", {}).items(), key=lambda item: -item[1]["tokens"])
    if languages and manifest["tokens"]:
        total = manifest["tokens"]
        shares = ", ".join(f"{name} {entry['tokens'] / total:.1%}" for name, entry in languages[:5])
        line += f" ({shares}{', ...' if len(languages) > 5 else ''})"
    return line


@functools.cache  # once per process: every stage builds its datasets
def log_contents(prefix: str) -> None:
    """What training logs for each prefix it blends: the manifest's counts, or why there are none."""
    try:
        manifest = read_manifest(prefix)
    except ValueError as error:
        logger.warning("--data-path %s", error)
        return
    if manifest is None:
        logger.info("--data-path %s: no %s (not written by tools/preprocess_data.py)", prefix,
                    manifest_path(prefix).name)
        return
    logger.info("--data-path %s", summary(prefix, manifest))
