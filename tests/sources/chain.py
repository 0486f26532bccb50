"""A source's filters, pseudonyms and renderer applied to one record in-process, as the datatrove blocks apply
them (the same per-record generators)."""

from __future__ import annotations

import copy

from megatron_sc2.sources import SOURCES
from megatron_sc2.sources.blocks import Drop, record_rng


def filtered(source_name: str, record: dict, options=None, seed: int = 0) -> dict:
    """A copy of the record after the source's filters and pseudonyms; raises Drop."""
    source = SOURCES[source_name]
    options = options or source.options()
    record, record_id = copy.deepcopy(record), str(record[source.id_key])
    for check in source.filters(options):
        check(record, record_rng(seed, getattr(check, "func", check).__name__, record_id))
    if source.pseudonymize:
        source.pseudonymize(record)
    return record


def render(source_name: str, record: dict, options=None, seed: int = 0) -> tuple[str | None, str | None]:
    """(text, None) or (None, the reason it was removed)."""
    source = SOURCES[source_name]
    options = options or source.options()
    try:
        kept = filtered(source_name, record, options, seed)
        text, _ = source.render(kept, record_rng(seed, "render", str(record[source.id_key])), options=options)
    except Drop as drop:
        return None, drop.reason
    return text, None
