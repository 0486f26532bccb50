"""Input corpora: JSONL (plain, .gz, .zst) and Parquet files, streamed record by record.

JSONL lines are yielded as raw bytes, so that decoding and parsing errors are classified by the
caller instead of stopping the run; Parquet rows are yielded as dicts. Each reader reports how
many bytes of the file on disk it has consumed, which is what progress and ETA are measured in.
A compressed file that ends early or does not decompress raises, after its readable records, one of
`read_errors()`: gzip and zstd streams are both checked to end where a frame ends.
"""

from __future__ import annotations

import codecs
import glob
import gzip
import io
import zlib
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


def input_folders(patterns: list[str]) -> list[Path]:
    """The folders among the inputs (named, or matched by a glob)."""
    matches = [
        Path(m) for pattern in patterns for m in (sorted(glob.glob(pattern, recursive=True)) or [pattern])
    ]
    return [match.resolve() for match in matches if match.is_dir()]


class _ZstdFrames(io.RawIOBase):
    """The decompressed bytes of a zstd file of one or more frames. Raises EOFError if the file ends
    inside a frame: zstandard's own `stream_reader` returns what it has and stops, silently."""

    CHUNK = 1 << 16  # compressed bytes per step: bounds the decompressed bytes held at once

    def __init__(self, raw: io.BufferedReader):
        import zstandard

        self._raw, self._new_frame = raw, zstandard.ZstdDecompressor().decompressobj
        self._frame, self._in_frame = self._new_frame(), False
        self._out, self._pos = memoryview(b""), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        while self._pos == len(self._out):
            data = self._raw.read(self.CHUNK)
            if not data:
                if self._in_frame:
                    raise EOFError("the zstd stream ends inside a frame (truncated file)")
                return 0
            self._out, self._pos = memoryview(self._decompress(data)), 0
        size = min(len(buffer), len(self._out) - self._pos)
        buffer[:size] = self._out[self._pos : self._pos + size]
        self._pos += size
        return size

    def _decompress(self, data: bytes) -> bytes:
        out = []
        while data:
            out.append(self._frame.decompress(data))
            self._in_frame = not self._frame.eof
            if self._in_frame:
                break
            data, self._frame = self._frame.unused_data, self._new_frame()
        return b"".join(out)


def decompressed(raw: io.BufferedReader, name: str) -> io.BufferedIOBase:
    """`raw` decompressed by its file name's suffix (.gz, .zst, or none), checked to end whole."""
    if name.endswith(".gz"):
        return gzip.GzipFile(fileobj=raw)
    if name.endswith(".zst"):
        return io.BufferedReader(_ZstdFrames(raw), buffer_size=1 << 20)
    return raw


def _jsonl_records(path: Path, progress: Progress) -> Iterator[Record]:
    with open(path, "rb") as raw, decompressed(raw, path.name) as lines:
        first = lines.readline().removeprefix(codecs.BOM_UTF8)  # a BOM would make the first record bad
        if first:
            yield first
        for number, line in enumerate(lines, 1):
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


def read_errors() -> tuple[type[Exception], ...]:
    """What reading a truncated or corrupt input raises: gzip (EOFError, BadGzipFile, zlib.error),
    zstd (EOFError, ZstdError), pyarrow (ArrowInvalid is a ValueError)."""
    import zstandard

    return EOFError, OSError, ValueError, zlib.error, zstandard.ZstdError


def read_records(path: Path, columns: list[str], progress: Progress) -> Iterator[Record]:
    """Records of one file: raw JSONL lines, or Parquet rows restricted to `columns`.

    Raises CorruptInput, after the records that could be read, if the file breaks off."""
    if path.name.endswith(PARQUET_SUFFIXES):
        records = _parquet_records(path, columns, progress)
    else:
        records = _jsonl_records(path, progress)
    try:
        yield from records
    except read_errors() as error:
        raise CorruptInput(f"{path}: {error}") from error
