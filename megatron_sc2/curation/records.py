"""Record schemas and the reader/writer that carry raw code records through datatrove unchanged.

A record's content becomes `Document.text`; every other column rides along in `Document.metadata` and is written
back under its own name, so the output has the input's schema.

A long run must neither stop at one bad record nor lose the records after it: the reader counts every record it
cannot use under a reason of preprocessing's `SKIP_REASONS` (`bad_<reason>` for bad input, towards
`--max-bad-fraction`), and a file that breaks off (truncated or corrupt compression, broken Parquet) as one
`bad_corrupt_file`, named in a `corrupt_file <path>` counter, keeping the records read before the break.
"""

from dataclasses import dataclass
from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.readers.base import BaseDiskReader
from datatrove.pipeline.writers import JsonlWriter
from datatrove.utils.logging import logger

from megatron_sc2.curation.stats import CORRUPT_FILE
from megatron_sc2.data.inputs import decompressed, read_errors
from megatron_sc2.data.records import BAD_REASONS, Skip, parse, text_field


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
    is_vendor: str


SCHEMAS = {
    # The short names used by the project's own JSONL corpora.
    "default": Schema(
        content="content", id="id", path="path", repository="repository", language="language",
        license="license_type", stars="stars", forks="forks", revision_date="revision_date",
        visit_date="visit_date", is_generated="is_generated", is_vendor="is_vendor",
    ),
    # Columns of the Hugging Face `bigcode/the-stack-v2` files (with `content` fetched from Software Heritage).
    "the-stack-v2": Schema(
        content="content", id="blob_id", path="path", repository="repo_name", language="language",
        license="license_type", stars="star_events_count", forks="fork_events_count",
        revision_date="revision_date", visit_date="visit_date", is_generated="is_generated", is_vendor="is_vendor",
    ),
}


class RecordReader(BaseDiskReader):
    """Reads `.jsonl`/`.json[.gz|.zst]` or `.parquet` record files; bad records and broken files are counted, not
    fatal."""

    name = "📖 Records"

    def __init__(self, folder: str, schema: Schema, input_format: str):
        pattern = "**/*.parquet" if input_format == "parquet" else "**/*.json*"
        super().__init__(folder, glob_pattern=pattern, text_key=schema.content, id_key=schema.id,
                         add_file_path=False)
        self.input_format = input_format

    def _rows(self, filepath: str):
        with self.data_folder.open(filepath, "rb") as raw:
            if self.input_format == "parquet":
                import pyarrow.parquet as pq

                for batch in pq.ParquetFile(raw).iter_batches(batch_size=1024):
                    yield from batch.to_pylist()
            else:
                with decompressed(raw, filepath) as lines:
                    yield from lines

    def _document(self, row, filepath: str, index: int) -> Document:
        record = parse(row)
        text = text_field(record, self.text_key, allow_empty=True)
        if not text.strip():
            raise Skip("empty")
        del record[self.text_key]
        doc_id = record.get(self.id_key)
        return Document(text=text, id=str(doc_id) if doc_id is not None else f"{filepath}/{index}", metadata=record)

    def read_file(self, filepath: str):
        rows = self._rows(filepath)
        index = 0
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except read_errors() as error:
                logger.warning(f"{filepath}: skipping the rest of a broken file ({type(error).__name__}: {error})")
                self.stat_update("records", "bad_corrupt_file")
                self.stat_update(CORRUPT_FILE + self.data_folder.resolve_paths(filepath))
                return
            if isinstance(row, bytes) and not row.strip():
                continue
            self.stat_update("records")
            try:
                with self.track_time():
                    document = self._document(row, filepath, index)
            except Skip as skip:
                self.stat_update(f"{'bad' if skip.reason in BAD_REASONS else 'dropped'}_{skip.reason}")
                continue
            finally:
                index += 1
            yield document


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
