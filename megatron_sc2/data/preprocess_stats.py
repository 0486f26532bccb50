"""What a preprocessing run did: counts by outcome, live throughput and ETA, the final summary."""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from megatron_sc2.data.records import BAD_REASONS, SKIP_REASONS, Skip
from megatron_sc2.publish import write_text


@dataclass
class RunStats:
    records: int = 0  # files or documents considered: read here, or routed here by pass 1
    records_read: int = 0  # from input files by this task
    bad_records: int = 0
    skipped: Counter = field(default_factory=Counter)  # reason -> documents (or records) not written
    missing_keys: Counter = field(default_factory=Counter)  # key -> records without it
    documents: Counter = field(default_factory=Counter)  # json key -> documents written
    tokens: Counter = field(default_factory=Counter)  # json key -> tokens written
    text_bytes: int = 0  # UTF-8 bytes of the text that was tokenized
    started: float = field(default_factory=time.perf_counter)

    def record(self, skips: Iterable[Skip] = ()) -> None:
        """One input record, with why any of its parts were skipped."""
        self.records += 1
        skips = list(skips)
        reasons = [skip.reason for skip in skips]
        self.skipped.update(reasons)
        self.missing_keys.update(skip.key for skip in skips if skip.key is not None)
        self.bad_records += any(reason in BAD_REASONS for reason in reasons)

    def written(self, key: str, tokens: int) -> None:
        self.documents[key] += 1
        self.tokens[key] += tokens

    @property
    def bad_fraction(self) -> float:
        return self.bad_records / self.records if self.records else 0.0

    def to_dict(self, complete: bool) -> dict:
        elapsed = time.perf_counter() - self.started
        return {
            "complete": complete,
            "records": self.records,
            "records_read": self.records_read,
            "bad_records": self.bad_records,
            "bad_fraction": round(self.bad_fraction, 6),
            "skipped": {reason: self.skipped[reason] for reason in SKIP_REASONS if self.skipped[reason]},
            "documents": dict(self.documents),
            "tokens": dict(self.tokens),
            "text_bytes": self.text_bytes,
            "seconds": round(elapsed, 3),
            "tokens_per_second": round(sum(self.tokens.values()) / elapsed, 1) if elapsed else 0.0,
        }

    def write_json(self, path: Path, complete: bool, extra: dict, staging: Path) -> None:
        """Written in the run's staging folder and renamed, like the dataset itself."""
        write_text(path, json.dumps({**self.to_dict(complete), **extra}, indent=2) + "\n", staging=staging)

    def summary(self) -> list[str]:
        elapsed = time.perf_counter() - self.started
        tokens = sum(self.tokens.values())
        lines = [
            (
                f"{self.records:,} records in {elapsed:,.1f} s: {sum(self.documents.values()):,} documents, "
                f"{tokens:,} tokens ({tokens / max(elapsed, 1e-9):,.0f} tokens/s, "
                f"{self.text_bytes / 1e6 / max(elapsed, 1e-9):,.2f} MB/s of text)"
            ),
        ]
        for reason in SKIP_REASONS:
            if self.skipped[reason]:
                kind = "bad input" if reason in BAD_REASONS else "skipped"
                lines.append(f"  {kind}: {self.skipped[reason]:,} {reason} ({SKIP_REASONS[reason][0]})")
        return lines


class ProgressMeter:
    """Logs count/s (documents, or files while grouping), tokens/s, input MB/s and an ETA every
    `interval` counts. MB and ETA are of the phase's input: files on disk, or grouped repositories."""

    def __init__(self, stats: RunStats, phase: str, interval: int, log: Callable[[str], None]):
        self.stats, self.phase, self.interval, self.log = stats, phase, interval, log
        self.start(0)

    def start(self, total_bytes: int) -> None:
        """Begin measuring: rates count from now, the ETA is for `total_bytes`."""
        self.total_bytes, self.done_bytes = total_bytes, 0
        self.started = time.perf_counter()
        self._next = self.interval
        self._start_tokens = sum(self.stats.tokens.values())

    def advance(self, done_bytes: int) -> None:
        """`done_bytes` of `total_bytes` (input on disk, or spilled repository data) consumed."""
        self.done_bytes = done_bytes

    def tick(self, count: int) -> None:
        """Called with the running count this meter is paced by (documents, or records)."""
        if count >= self._next:
            self._next = count + self.interval
            self.log(self.line(count))

    def line(self, count: int) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        tokens = sum(self.stats.tokens.values()) - self._start_tokens
        fraction = self.done_bytes / self.total_bytes if self.total_bytes else 0.0
        eta = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
        return (
            f"{self.phase}: {count:,} ({count / elapsed:,.0f}/s) | {tokens / elapsed:,.0f} tokens/s | "
            f"{self.done_bytes / 1e6 / elapsed:,.2f} MB/s | {100 * fraction:.1f}% of {self.total_bytes / 1e6:,.1f} MB"
            f" | ETA {_duration(eta)}"
        )


def _duration(seconds: float) -> str:
    if math.isnan(seconds):  # nothing consumed yet
        return "?"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"
