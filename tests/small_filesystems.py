"""Real file systems that refuse writes, for the tests of what a tool says then: a tmpfs of a few
pages (a full disk), or one remounted read-only. Mounting needs root; elsewhere the test skips,
saying so."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest


@contextmanager
def tmpfs(folder: Path, *, size: str = "256k", read_only: bool = False, holding: Sequence[str] = ()) -> Iterator[Path]:
    """A tmpfs of `size` at `folder`, holding the folders `holding`, read-only if asked."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        for name in holding:
            (folder / name).mkdir(parents=True)
        if read_only:
            subprocess.run(["mount", "-o", "remount,ro", str(folder)], check=True)
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)
