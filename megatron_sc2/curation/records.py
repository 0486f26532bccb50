"""Record schemas and the readers/writers that carry raw code records through datatrove unchanged.

A record's content becomes `Document.text`; every other column rides along in `Document.metadata` and is written
back under its own name, so the output has the input's schema.
"""

from dataclasses import dataclass
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.readers import JsonlReader, ParquetReader
from datatrove.pipeline.writers import JsonlWriter


@dataclass(frozen=True)
class Schema:
    """Column names of the fields curation reads."""

    content: str
    id: str
    path: str
    repository: str
    language: str
    license: str
    stars: str
    forks: str
    revision_date: str
    visit_date: str
    is_generated: str


SCHEMAS = {
    # The short names used by the project's own JSONL corpora.
    "default": Schema(
        content="content", id="id", path="path", repository="repository", language="language",
        license="license_type", stars="stars", forks="forks", revision_date="revision_date",
        visit_date="visit_date", is_generated="is_generated",
    ),
    # Columns of the Hugging Face `bigcode/the-stack-v2` files (with `content` fetched from Software Heritage).
    "the-stack-v2": Schema(
        content="content", id="blob_id", path="path", repository="repo_name", language="language",
        license="license_type", stars="star_events_count", forks="fork_events_count",
        revision_date="revision_date", visit_date="visit_date", is_generated="is_generated",
    ),
}


def _record_to_document(reader, data: dict, path: str, id_in_file: int) -> dict:
    text = data.pop(reader.text_key, "")
    doc_id = data.get(reader.id_key)
    return {"text": text, "id": str(doc_id) if doc_id is not None else f"{path}/{id_in_file}", "metadata": data}


def record_reader(folder: str, schema: Schema, input_format: str):
    """A datatrove reader of `folder`'s record files whose documents keep every column in their metadata."""
    reader_class = {"jsonl": JsonlReader, "parquet": ParquetReader}[input_format]
    pattern = "**/*.parquet" if input_format == "parquet" else "**/*.json*"
    return reader_class(
        folder, glob_pattern=pattern, text_key=schema.content, id_key=schema.id,
        adapter=_record_to_document, **({"add_file_path": False} if input_format == "jsonl" else {}),
    )


def _format_of(name: str) -> str | None:
    if name.endswith(".parquet"):
        return "parquet"
    return "jsonl" if name.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".json.zst")) else None


def input_files(folder: str) -> tuple[str, list[Path]]:
    """The record files under `folder` and their one format (`jsonl` or `parquet`); fails on none or a mix."""
    files = sorted(p for p in Path(folder).rglob("*") if p.is_file() and _format_of(p.name))
    formats = {_format_of(p.name) for p in files}
    if len(formats) != 1:
        found = " and ".join(sorted(formats)) or "no .jsonl[.gz|.zst] or .parquet files"
        raise ValueError(f"{folder}: expected record files of one format, found {found}")
    return formats.pop(), files


class RecordWriter(JsonlWriter):
    """JSONL writer that puts `Document.text` back under the schema's content column."""

    name = "🐿 Jsonl records"

    def __init__(self, folder: str, schema: Schema, compression: str | None = "zstd"):
        super().__init__(folder, output_filename="${rank}.jsonl", compression=compression)
        self.content_key = schema.content

    def _default_adapter(self, document: Document) -> dict:
        return {self.content_key: document.text, **document.metadata}
