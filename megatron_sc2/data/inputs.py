"""Input corpora: JSONL (plain, .gz, .zst) and Parquet files, streamed record by record.

JSONL lines are yielded as raw bytes, so that decoding and parsing errors are classified by the
caller instead of stopping the run; Parquet rows are yielded as dicts. Each reader reports how
many bytes of the file on disk it has consumed, which is what progress and ETA are measured in.
"""

from __future__ import annotations

import glob
import gzip
import io
from collections.abc import Callable, Iterator
from pathlib import Path

JSONL_SUFFIXES = (".jsonl", ".json", ".jsonl.gz", ".json.gz", ".jsonl.zst", ".json.zst")
PARQUET_SUFFIXES = (".parquet",)
SUPPORTED_SUFFIXES = JSONL_SUFFIXES + PARQUET_SUFFIXES
PARQUET_BATCH_ROWS = 1024

Record = bytes | dict
Progress = Callable[[int], None]  # called with the bytes of the file on disk consumed so far


def expand_inputs(patterns: list[str]) -> list[Path]:
    """Files named by paths, globs and folders (searched recursively), sorted, each once."""
    files: list[Path] = []
    for pattern in patterns:
        matches = sorted(glob.glob(pattern, recursive=True)) or [pattern]
        for match in map(Path, matches):
            if match.is_dir():
                files += sorted(
                    p for p in match.rglob("*") if p.is_file() and p.name.endswith(SUPPORTED_SUFFIXES)
                )
            elif match.is_file():
                if not match.name.endswith(SUPPORTED_SUFFIXES):
                    raise ValueError(
                        f"input {match}: unsupported file type (expected one of {SUPPORTED_SUFFIXES})"
                    )
                files.append(match)
            else:
                raise FileNotFoundError(f"input {pattern} matches no file")
    unique = list(dict.fromkeys(path.resolve() for path in files))
    if not unique:
        raise FileNotFoundError(f"no input files in {' '.join(patterns)}")
    return unique


def _decompressed(raw: io.BufferedReader, name: str) -> io.BufferedIOBase:
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if name.endswith(".zst"):
        import zstandard

        return io.BufferedReader(zstandard.ZstdDecompressor().stream_reader(raw))
    return raw


def _jsonl_records(path: Path, progress: Progress) -> Iterator[Record]:
    with open(path, "rb") as raw, _decompressed(raw, path.name) as lines:
        for number, line in enumerate(lines):
            yield line
            if number % 256 == 0:
                progress(raw.tell())
        progress(raw.tell())


def _parquet_records(path: Path, columns: list[str], progress: Progress) -> Iterator[Record]:
    """Rows in batches; progress is the file size times the fraction of rows read."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    present = [c for c in columns if c in parquet.schema_arrow.names]
    size, rows, done = path.stat().st_size, max(parquet.metadata.num_rows, 1), 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=present):
        yield from batch.to_pylist()
        done += batch.num_rows
        progress(size * done // rows)


class CorruptInput(Exception):
    """A file that cannot be read to its end: truncated or corrupt compression, broken Parquet."""


def _read_errors() -> tuple[type[Exception], ...]:
    import zstandard

    return EOFError, OSError, ValueError, zstandard.ZstdError  # gzip, zstd, pyarrow (ArrowInvalid)


def read_records(path: Path, columns: list[str], progress: Progress) -> Iterator[Record]:
    """Records of one file: raw JSONL lines, or Parquet rows restricted to `columns`.

    Raises CorruptInput, after the records that could be read, if the file breaks off."""
    if path.name.endswith(PARQUET_SUFFIXES):
        records = _parquet_records(path, columns, progress)
    else:
        records = _jsonl_records(path, progress)
    try:
        yield from records
    except _read_errors() as error:
        raise CorruptInput(f"{path}: {type(error).__name__}: {error}") from error
