"""A script of tools/ loaded as a module, so a test calls its `main(argv)` in this process."""

from __future__ import annotations

import importlib.util
from pathlib import Path

TOOLS = Path(__file__).resolve().parents[1] / "tools"


def tool_module(script: str):
    """`tools/{script}` as a module."""
    spec = importlib.util.spec_from_file_location(Path(script).stem, TOOLS / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
