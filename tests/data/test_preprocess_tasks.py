"""tools/preprocess_data.py --executor: the partitions as datatrove tasks, then their merge, write a single
run's bytes; a rerun runs only the tasks that did not complete."""

from __future__ import annotations

import json
import logging
import shutil
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
    assert caplog.messages[-1].endswith(f"(log: {log}); rerunning the same command runs it again")
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


def test_a_run_ends_with_what_it_published(tmp_path, shards, sc2_tokenizer_dir, caplog):
    """The last line names the dataset and its totals; the route stage's log says what routing did."""
    prefix = tmp_path / "out"
    argv = flags(shards, sc2_tokenizer_dir, prefix, "--repo-context", "--executor", "local", "--tasks", str(TASKS))
    with caplog.at_level(logging.INFO, logger="megatron_sc2"):
        assert tool().main(argv) == 0
    counts = manifest(prefix)
    size = Path(f"{prefix}_content_document.bin").stat().st_size
    assert caplog.messages[-1] == (f"published {prefix}_content_document.bin/.idx from {TASKS} task(s): "
                                   f"{counts['documents']:,} documents, {counts['tokens']:,} tokens, {size:,} bytes")
    work = Path(f"{prefix}.tasks")
    route_log = (work / "logs" / "route" / "logs" / "task_00000.log").read_text()
    assert f"to {TASKS} partitions in {work / 'route' / 'reader-00000'}" in route_log
    assert "ROUTE" in route_log and "TOKENIZE" not in route_log and "documents" not in route_log


def hold_partition_1(argv, work: Path) -> None:
    """A run in which partition 1 is busy (another run holds it): the others complete, the merge does not run."""
    with dataset_output(str(work / "parts" / "p00001"), log=lambda line: None):
        assert tool().main(argv) == 1


@pytest.mark.parametrize("damage", ["truncate", "delete"])
def test_a_damaged_partition_is_tokenized_again(tmp_path, shards, sc2_tokenizer_dir, single_runs, caplog, damage):
    prefix = tmp_path / "out"
    argv = flags(shards, sc2_tokenizer_dir, prefix, "--executor", "local", "--tasks", str(TASKS))
    work = Path(f"{prefix}.tasks")
    hold_partition_1(argv, work)
    part = work / "parts" / "p00000_content_document.bin"
    if damage == "truncate":
        with open(part, "r+b") as data:
            data.truncate(part.stat().st_size - 1000)
    else:
        part.unlink()
    with caplog.at_level(logging.INFO, logger="megatron_sc2"):
        assert tool().main(argv) == 0
    assert any(m.startswith("partition 0 of a previous run is damaged (") and
               m.endswith("): tokenizing it again") for m in caplog.messages)
    assert dataset(prefix) == dataset(single_runs[False])


def test_a_partition_damaged_before_the_merge_is_marked_to_run_again(tmp_path, shards, sc2_tokenizer_dir,
                                                                     single_runs, caplog):
    """Damaged after the tokenize stage checked it (as on SLURM, between job arrays): the merge refuses it and
    un-marks it, so the rerun it advises tokenizes it again."""
    from megatron_sc2.data import preprocess_tasks

    prefix = tmp_path / "out"
    argv = flags(shards, sc2_tokenizer_dir, prefix, "--executor", "local", "--tasks", str(TASKS))
    work = Path(f"{prefix}.tasks")
    real = preprocess_tasks.merge_partitions

    def damage_then_merge(config, tasks):
        (work / "parts" / "p00002_content_document.bin").unlink()
        return real(config, tasks)

    preprocess_tasks.merge_partitions = damage_then_merge
    try:
        assert tool().main(argv) == 1
    finally:
        preprocess_tasks.merge_partitions = real
    assert caplog.messages[-1].startswith("error: merge: partition(s) 2 of 3 damaged (")
    assert caplog.messages[-1].endswith("); they are marked to be tokenized again: rerun the same command")
    assert not Path(f"{prefix}_content_document.bin").exists()
    assert tool().main(argv) == 0
    assert dataset(prefix) == dataset(single_runs[False])


def test_a_work_folder_without_its_config_is_a_new_run(tmp_path, shards, sc2_tokenizer_dir, single_runs, caplog):
    """Its completed tasks could be of other options (without --append-eod here): they are not reused."""
    prefix = tmp_path / "out"
    argv = flags(shards, sc2_tokenizer_dir, prefix, "--executor", "local", "--tasks", str(TASKS))
    work = Path(f"{prefix}.tasks")
    hold_partition_1([a for a in argv if a != "--append-eod"], work)
    (work / "config.json").unlink()
    with caplog.at_level(logging.INFO, logger="megatron_sc2"):
        assert tool().main(argv) == 0
    assert f"{work} holds no config.json: its tasks are of an unknown run, deleted; starting anew" in caplog.messages
    assert dataset(prefix) == dataset(single_runs[False])


def test_a_tokenizer_replaced_at_the_same_path_is_refused_at_once(tmp_path, shards, sc2_tokenizer_dir, caplog):
    from other_tokenizer import other_tokenizer

    tokenizer = tmp_path / "tokenizer"
    shutil.copytree(sc2_tokenizer_dir, tokenizer)
    prefix = tmp_path / "out"
    argv = flags(shards, tokenizer, prefix, "--executor", "local", "--tasks", str(TASKS))
    work = Path(f"{prefix}.tasks")
    hold_partition_1(argv, work)
    shutil.rmtree(tokenizer)
    shutil.copytree(other_tokenizer(sc2_tokenizer_dir, tmp_path / "other"), tokenizer)
    assert tool().main(argv) == 1
    assert caplog.messages[-1] == (f"error: {work} holds the tasks of a run with other tokenizer: rerun with the "
                                   f"same input and options to resume it, or delete {work} to start anew")


def test_a_failed_task_shows_as_one_line(tmp_path, sc2_tokenizer_dir, capfd):
    """datatrove's loguru tracebacks of the failed task stay in its log file."""
    (tmp_path / "in").mkdir()
    for name in ("a", "b"):
        (tmp_path / "in" / f"{name}.jsonl").write_text('{"text": "no content key"}\n' * 20)
    logging.getLogger("megatron_sc2").addHandler(handler := logging.StreamHandler())  # the tool's stderr line
    try:
        assert tool().main(flags(tmp_path / "in", sc2_tokenizer_dir, tmp_path / "out", "--executor", "local",
                                 "--tasks", "2")) == 1
    finally:
        logging.getLogger("megatron_sc2").removeHandler(handler)
    stderr = capfd.readouterr().err
    assert "Traceback" not in stderr and "ERROR" not in stderr
    errors = [line for line in stderr.splitlines() if "error" in line]
    assert len(errors) == 1 and "tokenize task 0 of 2: 20 of 20 records are bad" in errors[0], stderr
    assert errors[0].endswith("rerunning the same command runs it again")
    assert "Traceback" in (tmp_path / "out.tasks" / "logs" / "tokenize" / "logs" / "task_00000.log").read_text()
