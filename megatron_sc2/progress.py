"""The progress bar the tools draw (tqdm, on stderr, with rate and ETA), or nothing when disabled:
shared by evaluation (samples, windows) and conversion (bytes of tensors). Counts may advance in
fractions (a generation batch part-decoded), so the rate and ETA show before the first item is done;
the count is shown whole."""

from __future__ import annotations

from typing import Self


class Progress:
    def __init__(self, total: int, description: str, enabled: bool, unit: str = "sample"):
        self.bar = None
        if enabled:
            from tqdm import tqdm

            whole = None if unit == "B" else "{l_bar}{bar}| {n:.0f}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]"
            self.bar = tqdm(total=total, desc=description, unit=unit, unit_scale=unit == "B", dynamic_ncols=True,
                            bar_format=whole)

    def advance(self, count: float = 1, label: str | None = None) -> None:
        """`count` more done; `label` names the item just done (a tensor) beside the bar."""
        if self.bar is not None:
            if label is not None:
                self.bar.set_postfix_str(label, refresh=False)
            self.bar.update(count)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
