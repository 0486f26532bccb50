"""`tools/curate.py --executor slurm` through a real SLURM (the session's one-node cluster): the
dependent job arrays run to the end and write what the local executor writes."""

import json
import sys
import time
from pathlib import Path

import pytest

from megatron_sc2.curation.cli import main

REPO = Path(__file__).resolve().parents[2]


def outputs(folder: Path) -> dict:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted((folder / "data").rglob("*")) if p.is_file()}


@pytest.mark.slow
@pytest.mark.timeout(1500)
def test_slurm_executor_output_equals_the_local_one(slurm, tmp_path, stdlib_sources):
    raw = tmp_path / "raw"
    raw.mkdir()
    sources = [s for s in stdlib_sources if len(s) < 20_000][:12]
    records = [{"id": f"f{i}", "content": text, "path": f"pkg/m{i}.py", "repository": f"org/repo{i % 3}",
                "language": "Python", "license_type": "permissive", "stars": i}
               for i, text in enumerate(sources + [sources[0].replace("def ", "def  ", 1)])]
    for shard in range(2):
        (raw / f"part{shard}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records[shard::2]))

    local = tmp_path / "local"
    assert main(["--skip", "malware", "--input", str(raw), "--output", str(local), "--workers", "1"]) == 0

    on_slurm = tmp_path / "slurm"
    env = {"PATH": f"{Path(sys.executable).parent}:{slurm.env['PATH']}", "PYTHONPATH": str(REPO)}
    submitted = slurm.run(sys.executable, "tools/curate.py", "--skip", "malware", "--input", str(raw), "--output", str(on_slurm),
                          "--executor", "slurm", "--slurm-partition", "debug", "--slurm-time", "00:30:00",
                          env=env, cwd=REPO)
    assert submitted.returncode == 0, submitted.stdout[-3000:] + submitted.stderr[-3000:]
    deadline = time.monotonic() + 1200
    while slurm.run("squeue", "-h").stdout.strip():  # the six dependent stages, each a job array
        assert time.monotonic() < deadline, slurm.run("squeue").stdout
        time.sleep(1)
    job_logs = sorted(on_slurm.rglob("slurm_logs/*.out"), key=lambda p: p.stat().st_mtime)
    assert (on_slurm / "stats.json").exists(), job_logs[-1].read_text()[-3000:] if job_logs else "no job ran"

    assert outputs(on_slurm) == outputs(local) and outputs(local)
    stats_local, stats_slurm = (json.loads((d / "stats.json").read_text()) for d in (local, on_slurm))
    assert stats_slurm == stats_local
    assert stats_local["removed"].get("near_duplicate") == 1
