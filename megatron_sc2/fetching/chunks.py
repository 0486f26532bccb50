"""Chunks: the units of fetching work, each done once and durably.

A chunk is up to `rows` rows of one row group of one input file. Each fetched object's outcome is appended to the
chunk's journal (`NAME.journal`, flushed per object) as it arrives, so a killed run loses none: the rerun reads the
journal and fetches only the objects not in it. A finished chunk is its records (`NAME.jsonl`) and then its counts
(`NAME.stats.json`), each written whole; the counts mark it done and the journal goes.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from megatron_sc2.fetching.objects import Fetched, fetch
from megatron_sc2.fetching.shapes import Shape, file_records, renamed
from megatron_sc2.publish import write_text, write_whole


@dataclass(frozen=True)
class Chunk:
    file: int  # index in the sorted input files
    row_group: int
    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.file:05d}-{self.row_group:05d}-{self.start:09d}"


def plan(files: list[Path], rows: int) -> list[Chunk]:
    """Every chunk of the inputs, in input order, from the Parquet footers alone."""
    import pyarrow.parquet as pq

    chunks = []
    for index, path in enumerate(files):
        meta = pq.ParquetFile(path).metadata
        for group in range(meta.num_row_groups):
            count = meta.row_group(group).num_rows
            chunks += [Chunk(index, group, start, min(start + rows, count)) for start in range(0, count, rows)]
    return chunks


def task_chunks(chunks: list[Chunk], rank: int, tasks: int) -> list[Chunk]:
    """Task `rank`'s contiguous share of the chunks."""
    return chunks[rank * len(chunks) // tasks : (rank + 1) * len(chunks) // tasks]


class Rows:
    """Rows of chunks, reading each row group once while consecutive chunks share it."""

    def __init__(self, files: list[Path]):
        self.files, self.cached, self.table = files, None, None

    def of(self, chunk: Chunk) -> list[dict]:
        import pyarrow.parquet as pq

        if self.cached != (chunk.file, chunk.row_group):
            self.table = pq.ParquetFile(self.files[chunk.file]).read_row_group(chunk.row_group)
            self.cached = (chunk.file, chunk.row_group)
        return self.table.slice(chunk.start, chunk.stop - chunk.start).to_pylist()


def read_journal(path: Path) -> dict[int, Fetched]:
    """The outcomes a journal holds; a last line cut by a kill is left out (its object is fetched again)."""
    done = {}
    if path.is_file():
        for line in path.read_bytes().splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            done[entry["i"]] = Fetched(entry["content"], entry["reason"], entry["size"])
    return done


class Meter:
    """The progress line: objects and megabytes, per second, every `interval` seconds."""

    def __init__(self, log: Callable[[str], None], label: str, interval: float = 10.0):
        self.log, self.label, self.interval = log, label, interval
        self.start = self.last = time.monotonic()
        self.objects = self.bytes = self.bad = 0

    def add(self, fetched: Fetched) -> None:
        self.objects += 1
        self.bytes += fetched.size
        self.bad += fetched.reason is not None
        if time.monotonic() - self.last >= self.interval:
            self.report()

    def report(self) -> None:
        self.last = time.monotonic()
        seconds = max(self.last - self.start, 1e-9)
        self.log(f"{self.label}: {self.objects:,} objects ({self.objects / seconds:,.1f}/s), "
                 f"{self.bytes / 1e6:,.1f} MB ({self.bytes / 1e6 / seconds:,.2f} MB/s), {self.bad:,} bad")


@dataclass
class Fetcher:
    shape: Shape
    source: str
    s3: object  # boto3 S3 client (None for shapes that hold their contents)
    bucket: str
    concurrency: int

    def run(self, rows: list[dict], folder: Path, name: str, meter: Meter) -> None:
        """Chunk `name` of `rows` into `folder`, unless done; resumes from its journal."""
        stats_path = folder / f"{name}.stats.json"
        if stats_path.is_file():
            return
        records = [r for row in rows for r in file_records(self.shape, row, self.source)]
        journal = folder / f"{name}.journal"
        outcomes = read_journal(journal)
        todo = [i for i in range(len(records)) if i not in outcomes]
        with open(journal, "a", encoding="utf-8") as out, ThreadPoolExecutor(self.concurrency) as pool:
            futures = {pool.submit(self._fetch, records[i]): i for i in todo}
            for future in as_completed(futures):
                fetched = future.result()  # Unavailable: the task stops; the journal keeps the rest
                i = futures[future]
                outcomes[i] = fetched
                out.write(json.dumps({"i": i, "content": fetched.content, "reason": fetched.reason,
                                      "size": fetched.size}, ensure_ascii=False) + "\n")
                out.flush()
                meter.add(fetched)
        kept = [{"content": outcomes[i].content, **renamed(r)} for i, r in enumerate(records) if not outcomes[i].reason]
        counts = Counter(o.reason for o in outcomes.values() if o.reason)
        write_whole(folder / f"{name}.jsonl", lambda path: path.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in kept), encoding="utf-8"))
        write_text(stats_path, json.dumps({
            "rows": len(rows), "objects": len(records), "written": len(kept), "bad": dict(counts),
            "bytes_downloaded": sum(o.size for o in outcomes.values()),
            "bytes_written": sum(len(r["content"].encode("utf-8")) for r in kept),
        }) + "\n")
        journal.unlink()

    def _fetch(self, record: dict) -> Fetched:
        if not self.shape.fetched:
            content = record.pop("content", None)
            if not isinstance(content, str):
                return Fetched(None, "missing_key", 0)
            return Fetched(content, None, len(content.encode("utf-8")))
        return fetch(self.s3, self.bucket, record.get("blob_id"), record.get("src_encoding"))
