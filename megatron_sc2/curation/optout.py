"""Removal of repositories whose owners opted out of The Stack (StarCoder2 paper §3.5)."""

from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter

from megatron_sc2.curation.records import Schema


def read_opt_out_list(path: str) -> frozenset[str]:
    """One `owner/name` per line; blank lines and `#` comments ignored; matching is case-insensitive."""
    lines = (line.split("#", 1)[0].strip() for line in Path(path).read_text().splitlines())
    return frozenset(line.lower() for line in lines if line)


class OptOutFilter(BaseFilter):
    name = "🙅 Opt-out repositories"

    def __init__(self, repositories: frozenset[str], schema: Schema, exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.repositories = repositories
        self.schema = schema

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        repository = str(doc.metadata.get(self.schema.repository) or "").lower()
        return (False, "opt_out") if repository in self.repositories else True
