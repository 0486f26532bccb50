"""examples/quickstart_cpu.sh replaces its output folder only when it made it: OUT may name anything."""

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
QUICKSTART = REPO / "examples" / "quickstart_cpu.sh"


def start_quickstart(out: Path, tmp_path: Path) -> subprocess.CompletedProcess:
    """The script up to its first Python step, which a `python` that exits at once stops."""
    stop = tmp_path / "bin"
    stop.mkdir(exist_ok=True)
    (stop / "python").write_text("#!/bin/sh\nexit 3\n")
    (stop / "python").chmod(0o755)
    env = {**os.environ, "OUT": str(out), "PATH": f"{stop}:{os.environ['PATH']}"}
    return subprocess.run(["bash", str(QUICKSTART)], check=False, capture_output=True, text=True, env=env)


def test_a_folder_the_quickstart_did_not_make_is_left_alone(tmp_path):
    user = tmp_path / "thesis"
    user.mkdir()
    (user / "chapter1.tex").write_text("months of work")
    result = start_quickstart(user, tmp_path)
    assert result.returncode == 2 and (user / "chapter1.tex").read_text() == "months of work"
    assert result.stderr == (f"quickstart_cpu.sh: OUT={user} exists and is not a quick-start output "
                             f"(no {user}/.quickstart-output); choose another OUT\n")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("keep")
    assert start_quickstart(a_file, tmp_path).returncode == 2 and a_file.read_text() == "keep"


def test_its_own_output_is_replaced(tmp_path):
    out = tmp_path / "runs" / "quickstart"
    assert start_quickstart(out, tmp_path).returncode == 3  # made, marked, then stopped at the first step
    (out / "stale.txt").write_text("from the last run")
    assert start_quickstart(out, tmp_path).returncode == 3
    assert sorted(p.name for p in out.iterdir()) == [".quickstart-output"]
    empty = tmp_path / "empty"
    empty.mkdir()
    assert start_quickstart(empty, tmp_path).returncode == 3
