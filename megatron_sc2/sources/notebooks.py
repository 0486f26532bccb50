"""What the notebook and IR sources share: the datatrove filter that drops a raw record for a named reason, and the
reading of a notebook's JSON with nbformat."""

from collections.abc import Callable

import nbformat
from datatrove.data import Document
from datatrove.pipeline.filters.base_filter import BaseFilter


class Unreadable(ValueError):
    """The record's content is not a notebook."""


def read_notebook(content: str) -> nbformat.NotebookNode:
    """The notebook in nbformat 4 (older versions upgraded), cell sources and outputs joined into strings; no
    schema validation, which would cost more than the rendering and only log."""
    try:
        notebook = nbformat.reader.reads(content)
        return nbformat.convert(notebook, 4)
    except (ValueError, KeyError, TypeError, AttributeError, nbformat.ValidationError) as error:
        raise Unreadable(str(error)) from error


def is_python(notebook: nbformat.NotebookNode) -> bool:
    """The notebook's kernel or language is Python (its metadata says so)."""
    metadata = notebook.get("metadata", {})
    names = (
        metadata.get("language_info", {}).get("name"),
        metadata.get("kernelspec", {}).get("language"),
        metadata.get("kernelspec", {}).get("name"),
    )
    return any("python" in str(name).lower() for name in names if name)


def raw_record(doc: Document, text_key: str) -> dict:
    """The raw record a reader turned into `doc`: its metadata, with the text back under `text_key`."""
    return {**doc.metadata, text_key: doc.text}


class RecordFilter(BaseFilter):
    """Drops a raw record when `removal_reason(record, options)` names a reason; datatrove counts it as
    `dropped_<reason>` (curation's `stats.json` `removed`)."""

    removal_reason: Callable[[dict, object], str | None]
    options_class: type

    def __init__(self, options=None, text_key: str = "content", exclusion_writer=None):
        super().__init__(exclusion_writer)
        self.options, self.text_key = options or self.options_class(), text_key

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        reason = type(self).removal_reason(raw_record(doc, self.text_key), self.options)
        return True if reason is None else (False, reason)
