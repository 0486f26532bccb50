"""tools/preprocess_data.py --executor: the partitions as datatrove tasks, then their merge, write a single
run's bytes; a rerun runs only the tasks that did not complete."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pytest
from tool_module import tool_module

from megatron_sc2.data.dataset_writer import dataset_output

REPO_ROOT = Path(__file__).resolve().parents[2]
TASKS = 3


def tool():
    return tool_module("preprocess_data.py")


def flags(shards, tokenizer_dir, prefix, *extra) -> list[str]:
    """--workers is left at all cores: the local executor then runs one task at a time, in this process."""
    return ["--input", str(shards), "--output-prefix", str(prefix), "--tokenizer-type", "HuggingFaceTokenizer",
            "--tokenizer-model", str(tokenizer_dir), "--append-eod", "--repo-key", "repository", *extra]


def dataset(prefix) -> dict[str, bytes]:
    return {suffix: Path(f"{prefix}_content_document{suffix}").read_bytes()
            for suffix in (".bin", ".idx", ".tokenizer-id.json")}


def manifest(prefix) -> dict:
    return json.loads(Path(f"{prefix}_content_document.manifest.json").read_text())


def task_counts(work: Path, stage: str, name: str) -> list[int]:
    """A counter of each task, from datatrove's per-task stats."""
    files = sorted((work / "logs" / stage / "stats").glob("*.json"))
    counts = [json.loads(path.read_text())[0]["stats"][name] for path in files]
    return [count["total"] if isinstance(count, dict) else count for count in counts]  # 0 is a plain 0


@pytest.fixture(scope="module")
def single_runs(tmp_path_factory, shards, sc2_tokenizer_dir) -> dict[bool, Path]:
    """The single run's outputs, plain and --repo-context."""
    folder = tmp_path_factory.mktemp("single")
    for repo_context in (False, True):
        extra = ["--repo-context"] if repo_context else []
        assert tool().main(flags(shards, sc2_tokenizer_dir, folder / f"repo{repo_context}", *extra)) == 0
    return {repo_context: folder / f"repo{repo_context}" for repo_context in (False, True)}


@pytest.mark.parametrize("repo_context", [False, True], ids=["plain", "repo-context"])
def test_local_tasks_write_a_single_runs_bytes(tmp_path, shards, sc2_tokenizer_dir, single_runs, repo_context):
    extra = ["--repo-context"] if repo_context else []
    prefix = tmp_path / "out"
    argv = flags(shards, sc2_tokenizer_dir, prefix, *extra, "--executor", "local", "--tasks", str(TASKS))
    assert tool().main(argv) == 0
    assert dataset(prefix) == dataset(single_runs[repo_context])
    ours, single = manifest(prefix), manifest(single_runs[repo_context])
    assert ours.pop("command") != single.pop("command") and ours == single  # inputs: the files, not partitions

    work = Path(f"{prefix}.tasks")
    assert sorted(p.name for p in work.iterdir()) == ["config.json", "logs"]  # route files and partitions deleted
    stages = ["route", "tokenize", "merge"] if repo_context else ["tokenize", "merge"]
    assert sorted(p.name for p in (work / "logs").iterdir()) == sorted(stages)
    read = task_counts(work, stages[0], "records_read")  # each input read once, by one task
    assert sum(read) == sum(len(f.read_text().splitlines()) for f in shards.iterdir()) and min(read) > 0
    assert len(read) == TASKS
    if repo_context:
        assert task_counts(work, "tokenize", "records_read") == [0] * TASKS


def test_a_failed_task_is_named_and_a_rerun_runs_only_the_rest(tmp_path, shards, sc2_tokenizer_dir, single_runs,
                                                               caplog):
    prefix = tmp_path / "out"
    argv = flags(shards, sc2_tokenizer_dir, prefix, "--executor", "local", "--tasks", str(TASKS))
    work = Path(f"{prefix}.tasks")
    with dataset_output(str(work / "parts" / "p00001"), log=lambda line: None):  # another run holds partition 1
        assert tool().main(argv) == 1
    log = work / "logs" / "tokenize" / "logs" / "task_00001.log"
    assert caplog.messages[-1].startswith("error: tokenize task 1 of 3: ")
    assert "is being written by another run" in caplog.messages[-1]
    assert caplog.messages[-1].endswith(f"(log: {log}); rerun the same command to run it again")
    completions = work / "logs" / "tokenize" / "completions"
    assert sorted(p.name for p in completions.iterdir()) == ["00000"]
    finished = (completions / "00000").stat().st_mtime_ns

    assert tool().main([*argv, "--seed", "7"]) == 1  # other options would not fit the completed task
    assert caplog.messages[-1] == (f"error: {work} holds the tasks of a run with other seed: rerun with the same "
                                   f"input and options to resume it, or delete {work} to start anew")
    assert tool().main(argv) == 0
    assert (completions / "00000").stat().st_mtime_ns == finished  # not run again
    assert dataset(prefix) == dataset(single_runs[False])


@pytest.mark.parametrize("extra, expected", [
    (["--executor", "local", "--num-partitions", "2"], "--executor makes the partitions itself"),
    (["--tasks", "2"], "--tasks and --slurm-partition are for --executor runs"),
    (["--executor", "slurm"], "--executor slurm needs --slurm-partition"),
])
def test_executor_flags_are_checked(tmp_path, shards, sc2_tokenizer_dir, capsys, extra, expected):
    with pytest.raises(SystemExit):
        tool().parse_args(flags(shards, sc2_tokenizer_dir, tmp_path / "out", *extra))
    assert expected in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_slurm_tasks_write_a_single_runs_bytes(slurm, tmp_path, shards, sc2_tokenizer_dir, single_runs):
    """--repo-context on the session's real SLURM: three dependent job arrays (route, tokenize, merge)."""
    prefix = tmp_path / "out"
    env = {"PATH": f"{Path(sys.executable).parent}:{slurm.env['PATH']}", "PYTHONPATH": str(REPO_ROOT)}
    argv = flags(shards, sc2_tokenizer_dir, prefix, "--repo-context", "--workers", "1", "--executor", "slurm",
                 "--tasks", "2", "--slurm-partition", "debug", "--slurm-time", "00:20:00")
    submitted = slurm.run(sys.executable, "tools/preprocess_data.py", *argv, env=env, cwd=REPO_ROOT)
    assert submitted.returncode == 0, submitted.stderr[-3000:]
    deadline = time.monotonic() + 1000
    while slurm.run("squeue", "-h").stdout.strip():
        assert time.monotonic() < deadline, slurm.run("squeue").stdout
        time.sleep(1)
    work = Path(f"{prefix}.tasks")
    job_logs = "\n".join(p.read_text()[-2000:] for p in sorted(work.rglob("slurm_logs/*.out")))
    assert Path(f"{prefix}_content_document.idx").is_file(), job_logs
    assert dataset(prefix) == dataset(single_runs[True])
    assert sum(task_counts(work, "route", "records_read")) == sum(
        len(f.read_text().splitlines()) for f in shards.iterdir())
