"""tools/fetch_contents.py against a real S3 API on loopback (moto's server behind a counting proxy): contents
decoded exactly in their encodings, bad objects counted by reason, 503s retried, a killed fetch resumed without
fetching any object twice, and the output read by curate.py and preprocess_data.py --repo-context as it is."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from s3_server import NO_CREDENTIALS, S3Server, blob
from tool_module import tool_module

REPO_ROOT = Path(__file__).resolve().parents[2]

# path -> (text, src_encoding) of the planted files that decode
GOOD = {
    "a/utf8.py": ("print('héllo wörld')\n", "UTF-8"),
    "a/latin1.py": ("café = 'naïve'\n", "ISO-8859-1"),
    "b/sjis.py": ("x = 'こんにちは'\n", "Shift_JIS"),
    "b/utf16.js": ("// ünïcode ☃\nlet x = 1;\n", "UTF-16"),
    "b/cp1252.txt": ("price: 5 € — “quoted”\n", "windows-1252"),
}
BAD = {"a/missing.py": "missing_object", "b/corrupt.py": "not_gzip", "b/undecodable.py": "undecodable"}
RETRIED = ("a/utf8.py", "b/sjis.py")  # answered 503 SlowDown on their first request


def file_struct(path: str, encoding: str = "UTF-8") -> dict:
    return {"blob_id": blob(path), "path": path, "src_encoding": encoding, "language": "Python",
            "license_type": "permissive", "is_vendor": False, "is_generated": False, "length_bytes": 10}


def plant_sample(server: S3Server) -> None:
    for path, (text, encoding) in GOOD.items():
        server.plant(blob(path), text.encode(encoding))
    server.plant(blob("b/corrupt.py"), b"this is not gzip", compress=False)
    server.plant(blob("b/undecodable.py"), b"ok \xff\xfe\xfa not utf-8")
    server.fail_first = {f"content/{blob(p)}" for p in RETRIED}


def training_set_sample(folder: Path) -> Path:
    """Two repositories in the shape of the-stack-v2-train-*-ids: one row per repository, a `files` list."""
    encodings = {p: e for p, (_, e) in GOOD.items()}
    rows = [{"repo_name": f"owner/{name}", "star_events_count": stars, "fork_events_count": 1,
             "revision_date": "2023-01-01T00:00:00", "visit_date": "2023-06-01T00:00:00",
             "files": [file_struct(p, encodings.get(p, "UTF-8")) for p in [*GOOD, *BAD] if p.startswith(f"{name}/")],
             "num_files": 0}
            for name, stars in (("a", 10), ("b", 3))]
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), folder / "train-00000.parquet")
    return folder


@pytest.fixture
def s3(monkeypatch):
    for name, value in NO_CREDENTIALS.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    with S3Server() as server:
        yield server


def fetch(*argv) -> int:
    return tool_module("fetch_contents.py").main([str(a) for a in argv])


def records(output: Path) -> list[dict]:
    return [json.loads(line) for f in sorted((output / "data").glob("*.jsonl")) for line in f.read_text().splitlines()]


def test_contents_decoded_bad_objects_counted_503s_retried(s3, tmp_path, capsys):
    plant_sample(s3)
    inputs = training_set_sample(tmp_path / "ids")
    assert fetch("--input", inputs, "--output", tmp_path / "out", "--endpoint-url", s3.url, "--max-bad-fraction",
                 "0.5", "--source", "the-stack-v2-train-smol") == 0
    got = records(tmp_path / "out")
    assert {r["path"]: r["content"] for r in got} == {p: text for p, (text, _) in GOOD.items()}
    assert [r["repository"] for r in got] == ["owner/a"] * 2 + ["owner/b"] * 3  # grouped, as published
    first = got[0]
    assert (first["id"], first["stars"], first["forks"], first["source"]) == (blob("a/utf8.py"), 10, 1,
                                                                            "the-stack-v2-train-smol")
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["bad"] == {"missing_object": 1, "not_gzip": 1, "undecodable": 1}
    assert (stats["objects"], stats["written"], stats["complete"]) == (8, 5, True)
    assert s3.refused == {f"content/{blob(p)}": 1 for p in RETRIED}
    assert all(n == 1 for n in s3.served.values()) and len(s3.served) == 7
    assert "bad objects: 1 missing_object, 1 not_gzip, 1 undecodable" in capsys.readouterr().out
    assert not Path(f"{tmp_path / 'out'}.tasks/chunks").exists()


def test_too_many_bad_objects_publish_nothing(s3, tmp_path, capfd):
    plant_sample(s3)
    inputs = training_set_sample(tmp_path / "ids")
    assert fetch("--input", inputs, "--output", tmp_path / "out", "--endpoint-url", s3.url) == 1
    err = capfd.readouterr().err  # also loguru's complaints about sinks of earlier tests: lines of their own
    error = [line for line in err.splitlines() if line.startswith("fetch_contents.py")]
    assert len(error) == 1 and "3 of 8 objects are bad" in error[0] and "--max-bad-fraction 1.00%" in error[0]
    assert "1 missing_object, 1 not_gzip, 1 undecodable" in error[0]
    assert not (tmp_path / "out").exists()


def test_a_killed_fetch_resumes_without_fetching_an_object_twice(s3, tmp_path):
    """A real process, SIGKILLed once the proxy has served some objects (answers after those are held back, so
    that every object served reached the client); the rerun fetches each remaining object once."""
    texts = {f"r{i % 5}/f{i}.py": f"x = {i}\n" * (i + 1) for i in range(40)}
    for path, text in texts.items():
        s3.plant(blob(path), text.encode())
    rows = [{**file_struct(path), "repo_name": f"owner/{path.split('/')[0]}", "star_events_count": 1,
             "fork_events_count": 0} for path in texts]
    (tmp_path / "ids").mkdir()
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "ids" / "stack.parquet")
    command = [sys.executable, str(REPO_ROOT / "tools" / "fetch_contents.py"), "--input", str(tmp_path / "ids"),
               "--output", str(tmp_path / "out"), "--endpoint-url", s3.url, "--concurrency", "2",
               "--rows-per-chunk", "4"]
    env = {**os.environ, **{k: v for k, v in NO_CREDENTIALS.items() if v}, "PYTHONPATH": str(REPO_ROOT)}
    for name in (k for k, v in NO_CREDENTIALS.items() if v is None):
        env.pop(name, None)
    s3.hold_after = 13
    first = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while sum(s3.served.values()) < 13 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.5)  # the client journals what it got; the proxy holds every later answer
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    s3.release.set()  # the held requests go unanswered: their client is dead
    s3.hold_after = None
    assert sum(s3.served.values()) == 13 and not (tmp_path / "out").exists()
    second = subprocess.run(command, check=False, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-2000:]
    assert {r["path"]: r["content"] for r in records(tmp_path / "out")} == texts
    assert s3.served == {f"content/{blob(p)}": 1 for p in texts}


def test_extras_pass_through_and_their_special_tokens_encode_as_special(tmp_path, sc2_tokenizer_dir, sc2_tokenizer):
    """A starcoder2data-extras config (rows holding `content` in StarCoder2's format) needs no S3: it passes through
    as its own source, and preprocessing encodes its special-token text as the single special ids."""
    text = "<issue_start>Title: crash\nusername_0: it fails<issue_comment>username_1: fixed<issue_closed>"
    (tmp_path / "issues").mkdir()
    pq.write_table(pa.Table.from_pylist([{"id": "1", "content": text}, {"id": "2", "content": None}]),
                   tmp_path / "issues" / "train-00000.parquet")
    assert fetch("--input", tmp_path / "issues", "--output", tmp_path / "out", "--source", "issues",
                 "--max-bad-fraction", "0.5") == 0
    assert records(tmp_path / "out") == [{"content": text, "id": "1", "source": "issues"}]
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["bad"] == {"missing_key": 1}
    preprocess = tool_module("preprocess_data.py").main
    assert preprocess(["--input", str(tmp_path / "out" / "data"), "--output-prefix", str(tmp_path / "tok"),
                       "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", str(sc2_tokenizer_dir),
                       "--workers", "1"]) == 0
    tokens = np.fromfile(tmp_path / "tok_content_document.bin", dtype=np.uint16).tolist()
    ids = [sc2_tokenizer.token_id(name) for name in ("<issue_start>", "<issue_comment>", "<issue_closed>")]
    assert [t for t in tokens if t in sc2_tokenizer.special_ids] == ids
    assert tokens == sc2_tokenizer.encode(text)
    manifest = json.loads((tmp_path / "tok_content_document.manifest.json").read_text())
    assert list(manifest["by_source"]) == ["issues"]
