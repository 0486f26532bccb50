"""The datatrove blocks every conversation source is made of: a reader of whole-conversation records, the source's
filters, pseudonyms, and its renderer, which writes the StarCoder2 text into `Document.text`.

A raw conversation (an issue's events, a pull request's events and files, a question and its answers) rides in
`Document.metadata` until the renderer turns it into text; what the output keeps of it is the renderer's choice.
Every random choice draws from a generator seeded by `--seed`, the block and the record id, so a record renders
the same whichever task, order or machine it meets.
"""

import dataclasses
import random
from collections.abc import Callable

from datatrove.data import Document
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.filters.base_filter import BaseFilter

from megatron_sc2.curation.records import SCHEMAS, RecordReader
from megatron_sc2.data.records import parse


def record_rng(seed: int, block: str, record_id: str) -> random.Random:
    return random.Random(f"{seed}/{block}/{record_id}")


class Drop(Exception):
    """The record is not rendered; `reason` names why in stats.json (`removed`)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class ConversationReader(RecordReader):
    """Curation's record reader for records that are whole conversations, with no content column: the record goes
    into `Document.metadata` as it is (bad records and broken files are counted as curation counts them)."""

    name = "📖 Conversations"

    def __init__(self, folder: str, input_format: str, id_key: str):
        super().__init__(folder, dataclasses.replace(SCHEMAS["default"], id=id_key), input_format)

    def _document(self, row, filepath: str, index: int) -> Document:
        record = parse(row)
        record_id = record.get(self.id_key)
        return Document(text="", id=str(record_id) if record_id is not None else f"{filepath}/{index}",
                        metadata=record)


class RecordFilter(BaseFilter):
    """One of a source's filters: `check(record, rng)` raises Drop to remove the record, or may change it."""

    def __init__(self, check: Callable[[dict, random.Random], None], seed: int = 0):
        self.block = getattr(check, "func", check).__name__  # a check with options is a functools.partial
        self.name = f"🔻 {self.block}"
        super().__init__()
        self.check, self.seed = check, seed

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        try:
            self.check(doc.metadata, record_rng(self.seed, self.block, doc.id))
        except Drop as drop:
            return False, drop.reason
        return True


class Pseudonymize(PipelineStep):
    """Replaces the participants' names of each record with `username_<i>` (`pseudonymize(record)`)."""

    type = "🎭 - PSEUDONYMS"
    name = "🎭 Pseudonyms"

    def __init__(self, pseudonymize: Callable[[dict], None]):
        super().__init__()
        self.pseudonymize = pseudonymize

    def run(self, data, rank: int = 0, world_size: int = 1):
        for doc in data:
            with self.track_time():
                self.pseudonymize(doc.metadata)
            self.stat_update("documents")
            yield doc


class Render(BaseFilter):
    """`render(record, rng) -> (text, metadata)`: the record's StarCoder2 text, and the fields the output keeps
    beside it; a record the renderer cannot or must not render (Drop) is removed under its reason."""

    name = "🖋 Render"

    def __init__(self, render: Callable[[dict, random.Random], tuple[str, dict]], seed: int = 0):
        super().__init__()
        self.render, self.seed = render, seed

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        try:
            doc.text, doc.metadata = self.render(doc.metadata, record_rng(self.seed, "render", doc.id))
        except Drop as drop:
            return False, drop.reason
        return True
