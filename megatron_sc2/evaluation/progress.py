"""A progress bar with rate and ETA (tqdm, on stderr), or nothing."""

from __future__ import annotations

from typing import Self


class Progress:
    def __init__(self, total: int, description: str, enabled: bool, unit: str = "sample"):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=description, unit=unit, dynamic_ncols=True)

    def advance(self, count: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
