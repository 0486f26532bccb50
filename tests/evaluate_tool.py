"""tools/evaluate.py run in the test's process, and the data folders it reads: fixtures of
tests/evaluation/data/ under the names tasks read, with a manifest of their own vouching for them."""

import json
import shutil
from pathlib import Path

from megatron_sc2.evaluation import cli
from megatron_sc2.evaluation.tasks import sha256

DATA = Path(__file__).parent / "evaluation" / "data"


def main(capsys, *args) -> tuple[int, str, str]:
    """tools/evaluate.py in this process: (exit status, stdout, stderr)."""
    try:
        status = cli.main([*map(str, args), "--no-progress"])
    except SystemExit as e:  # argparse
        status = e.code
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return status, out, err


def vouched(folder: Path, *files: tuple[str, str]) -> Path:
    """folder holding each fixture (fixture, name) under its name, and a manifest there vouching for them."""
    for fixture, name in files:
        shutil.copy(DATA / fixture, folder / name)
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({name: {"sha256": sha256(folder / name)} for _, name in files}))
    return manifest
