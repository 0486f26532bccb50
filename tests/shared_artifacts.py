"""Build an artifact once per pytest run, whichever xdist worker asks first.

Each xdist worker has its own session, so a session fixture would build its tokenizer or dataset
once per worker. The workers of one run share the parent of their base temporary folders; the
first to take the artifact's lock builds it there, the others wait and read it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest


def build_once(factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None], **inputs) -> Path:
    """The folder `build(folder)` filled, keyed by `name` and the inputs that decide its content."""
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:12]
    run = factory.getbasetemp()
    if "PYTEST_XDIST_WORKER" in os.environ:  # the worker's folder is inside the run's
        run = run.parent
    folder = run / "shared" / f"{name}-{key}"
    folder.parent.mkdir(parents=True, exist_ok=True)
    ready = folder.parent / f"{folder.name}.ready"  # beside the folder, which holds only what was built
    with open(folder.parent / f"{folder.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not ready.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a build that failed in another worker
            folder.mkdir()
            build(folder)
            ready.touch()
    return folder
