"""One writer per output prefix: a second run is refused, a killed run's leftovers are removed by the
next run, and a run that lost its lock publishes nothing. Real processes of tools/preprocess_data.py.

A run logs a progress line per document into a pipe the test does not read until it wants the run
to go on: it blocks, mid-run and holding its prefix, once the pipe is full (the stdlib corpus, four
times over, logs several times a pipe's 64 KiB), so no test depends on timing.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from megatron_sc2 import publish
from megatron_sc2.data import preprocess as preprocess_module
from megatron_sc2.data.dataset_writer import dataset_output
from megatron_sc2.data.preprocess import PreprocessConfig, preprocess
from megatron_sc2.publish import OutputBusy

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_tool(inputs, prefix, tokenizer_dir, *extra) -> subprocess.Popen:
    command = [
        sys.executable, str(REPO_ROOT / "tools" / "preprocess_data.py"), "--input", *map(str, inputs),
        "--output-prefix", str(prefix), "--tokenizer-type", "HuggingFaceTokenizer",
        "--tokenizer-model", str(tokenizer_dir), "--append-eod", "--workers", "1", "--log-interval", "1", *extra,
    ]  # fmt: skip
    return subprocess.Popen(command, stderr=subprocess.PIPE, text=True)


def wait_for_line(process: subprocess.Popen, text: str) -> list[str]:
    lines = []
    for line in process.stderr:
        lines.append(line)
        if text in line:
            return lines
    raise AssertionError(f"the run ended before printing {text!r}:\n{''.join(lines)}")


def wait_for_owner(lock: Path, process: subprocess.Popen) -> None:
    while not (lock.exists() and json.loads(lock.read_text() or "{}").get("pid") == process.pid):
        assert process.poll() is None, "the run ended without taking the lock"
        time.sleep(0.1)


def read_dataset(prefix) -> list[list[int]]:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    dataset = IndexedDataset(str(prefix))
    return [dataset[i].tolist() for i in range(len(dataset))]


def test_a_second_run_on_the_same_prefix_is_refused(tmp_path, stdlib_jsonl, stdlib_records, sc2_tokenizer_dir,
                                                    sc2_tokenizer):  # fmt: skip
    prefix, corpus = tmp_path / "out" / "c", tmp_path / "corpus.jsonl"
    corpus.write_text(stdlib_jsonl.read_text() * 4)  # a log longer than the pipe holds
    first = start_tool([corpus], prefix, sc2_tokenizer_dir)
    try:
        wait_for_owner(Path(f"{prefix}.lock"), first)  # and it cannot end while its log is not read
        second = start_tool([corpus], prefix, sc2_tokenizer_dir)
        _, second_err = second.communicate(timeout=600)
        _, first_err = first.communicate(timeout=600)
    finally:
        first.kill()
    errors = [line for line in second_err.splitlines() if "error" in line.lower()]
    assert second.returncode == 1 and len(errors) == 1, second_err
    assert f"{prefix} is being written by another run (host " in errors[0] and f"pid {first.pid}" in errors[0]
    assert first.returncode == 0, first_err
    texts = [r["content"] for r in stdlib_records if r["content"]] * 4
    expected = [ids + [sc2_tokenizer.eod] for ids in sc2_tokenizer.encode_batch(texts)]
    assert read_dataset(f"{prefix}_content_document") == expected
    assert sorted(p.name for p in prefix.parent.iterdir()) == [
        "c_content_document.bin", "c_content_document.idx", "c_content_document.manifest.json",
        "c_content_document.tokenizer-id.json",
        "c_stats.json",
    ]  # fmt: skip


def test_the_next_run_removes_what_a_killed_run_left(tmp_path, stdlib_jsonl, sc2_tokenizer_dir):
    prefix = tmp_path / "out" / "c"
    repo = ["--repo-context", "--repo-key", "repository"]
    killed = start_tool([stdlib_jsonl], prefix, sc2_tokenizer_dir, *repo)
    try:
        wait_for_line(killed, "files grouped")
    finally:
        killed.kill()
        killed.communicate()
    left = sorted(p.name for p in prefix.parent.iterdir())
    assert "c.lock" in left and any(".partial-" in name for name in left), left

    messages = []
    config = PreprocessConfig(
        inputs=[str(stdlib_jsonl)], output_prefix=str(prefix), tokenizer_type="HuggingFaceTokenizer",
        tokenizer_model=str(sc2_tokenizer_dir), repo_context=True, repo_key="repository",
    )  # fmt: skip
    preprocess(config, log=messages.append)
    assert any(f"pid {killed.pid}" in m and "is gone; taking it over" in m for m in messages), messages
    assert sorted(p.name for p in prefix.parent.iterdir()) == [
        "c_content_document.bin", "c_content_document.idx", "c_content_document.manifest.json",
        "c_content_document.tokenizer-id.json",
        "c_stats.json",
    ]  # fmt: skip


def test_a_run_that_lost_its_lock_publishes_nothing(tmp_path, stdlib_jsonl, sc2_tokenizer_dir, monkeypatch):
    prefix = tmp_path / "out" / "c"
    config = PreprocessConfig(
        inputs=[str(stdlib_jsonl)], output_prefix=str(prefix), tokenizer_type="HuggingFaceTokenizer",
        tokenizer_model=str(sc2_tokenizer_dir),
    )  # fmt: skip
    intruder = dataset_output(str(prefix), log=lambda line: None)
    intruder.staging = intruder.staging.with_name(intruder.staging.name + "-other")  # as if another process
    real_encode = preprocess_module.encode_documents

    def encode_while_another_run_takes_the_prefix(*args):
        if intruder.file.fd is None:
            Path(f"{prefix}.lock").unlink()  # e.g. removed by hand, and another run started
            intruder.__enter__()
        return real_encode(*args)

    monkeypatch.setattr(preprocess_module, "encode_documents", encode_while_another_run_takes_the_prefix)
    try:
        with pytest.raises(OutputBusy, match="c.lock was removed or replaced during the run"):
            preprocess(config, log=lambda line: None)
        assert sorted(p.name for p in prefix.parent.iterdir()) == ["c.lock", intruder.staging.name]
    finally:
        intruder.__exit__(None, None, None)
    assert list(prefix.parent.iterdir()) == []


def test_the_lock_is_exclusive_and_released(tmp_path):
    prefix = str(tmp_path / "c")
    with dataset_output(prefix, log=lambda line: None) as held:
        assert json.loads(Path(f"{prefix}.lock").read_text())["pid"] == os.getpid()  # reading keeps the lock
        with pytest.raises(OutputBusy, match=f"{prefix} is being written by another run"):
            dataset_output(prefix, log=lambda line: None).__enter__()
        assert held.staging.is_dir()
    assert list(tmp_path.iterdir()) == []
    with dataset_output(prefix, log=lambda line: None):
        pass


def test_a_filesystem_without_locks_is_refused(tmp_path, monkeypatch):
    def no_locks(fd, command, arg):
        raise OSError(errno.ENOLCK, "No locks available")  # an NFS mount with nolock, Lustre without flock

    monkeypatch.setattr(publish.fcntl, "fcntl", no_locks)
    with pytest.raises(OutputBusy, match=r"c.lock \(No locks available\): the output filesystem must"):
        dataset_output(str(tmp_path / "c"), log=lambda line: None).__enter__()
    assert [p.name for p in tmp_path.iterdir()] == ["c.lock"]  # nothing written but the unlockable file
