"""Hostile input to tools/curate.py: broken files and bad records are counted and skipped, never silently
truncate a file or abort the run; a run that cannot publish a complete output ends in one line naming why."""

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import zstandard

from megatron_sc2.curation.cli import main
from megatron_sc2.curation.records import SCHEMAS, RecordReader
from megatron_sc2.curation.stats import RefusedInput, check_input

REPO = Path(__file__).resolve().parents[2]
CODE = "def add(a, b):\n    return a + b\n\n\nclass Point:\n    x: int\n    y: int\n"


def _lines(n: int, start: int = 0) -> bytes:
    return b"".join(json.dumps({"id": f"r{i}", "content": f"{CODE}# record {i}\n" * 3, "path": f"m{i}.py",
                                "language": "Python"}).encode() + b"\n" for i in range(start, start + n))


def read(folder: Path, input_format: str = "jsonl") -> tuple[list, dict]:
    reader = RecordReader(str(folder), SCHEMAS["default"], input_format)
    documents = list(reader.run())
    return documents, {name: metric.total for name, metric in reader.stats.stats.items()}


def curate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tools/curate.py", "--workers", "1", "--skip", "malware", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=600, check=False)


def refusal(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return result.stderr.strip().splitlines()[-1]


@pytest.mark.parametrize("suffix, compress", [
    (".jsonl.zst", lambda data: zstandard.ZstdCompressor().compress(data)),
    (".jsonl.gz", gzip.compress),
])
def test_truncated_compressed_file_is_a_corrupt_file(tmp_path, suffix, compress):
    data = compress(_lines(200))
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    (tmp_path / f"whole{suffix}").write_bytes(compress(_lines(20, start=500)))
    documents, stats = read(tmp_path)
    whole = [d for d in documents if int(d.id[1:]) >= 500]
    assert len(whole) == 20 and len(documents) < 220  # the cut file gives what it has, then is counted
    assert stats["bad_corrupt_file"] == 1 and f"corrupt_file {tmp_path / f'cut{suffix}'}" in stats
    assert stats["records"] == len(documents) + 1


def test_multi_frame_zstd_is_read_whole(tmp_path):
    frames = zstandard.ZstdCompressor().compress(_lines(30)) + zstandard.ZstdCompressor().compress(_lines(30, 30))
    (tmp_path / "two_frames.jsonl.zst").write_bytes(frames)
    documents, stats = read(tmp_path)
    assert len(documents) == 60 and "bad_corrupt_file" not in stats


def test_bad_records_are_counted_and_the_rest_of_the_file_kept(tmp_path):
    lines = _lines(51).splitlines(keepends=True)
    lines[9] = lines[9].replace(b"record", b"rec\xffrd")  # one invalid UTF-8 byte
    lines[20] = b'["a", "list"]\n'
    lines[30] = b'{"id": "int", "content": 12345}\n'
    lines[40] = b'{"id": "nested", "content": ' + b"[" * 100_000 + b"]" * 100_000 + b"}\n"
    lines[45] = b'{"id": "huge", "content": "x", "stars": ' + b"9" * 5000 + b"}\n"
    lines[47] = b"\n"
    (tmp_path / "part.jsonl").write_bytes(b"".join(lines))
    documents, stats = read(tmp_path)
    assert len(documents) == 45 and documents[-1].id == "r50"
    assert {k: v for k, v in stats.items() if k.startswith("bad_")} == {
        "bad_not_utf8": 1, "bad_not_an_object": 1, "bad_wrong_type": 1, "bad_unparsable_json": 2}
    assert stats["records"] == 50  # the blank line is not a record


def test_garbage_and_truncated_parquet_are_corrupt_files(tmp_path):
    table = pa.Table.from_pylist([{"content": f"{CODE}# {i}\n", "path": f"m{i}.py"} for i in range(10)])
    pq.write_table(table, tmp_path / "good.parquet")
    whole = (tmp_path / "good.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "garbage.parquet").write_bytes(b"not parquet at all\n" * 20)
    documents, stats = read(tmp_path, "parquet")
    assert len(documents) == 10 and stats["bad_corrupt_file"] == 2
    assert f"corrupt_file {tmp_path / 'garbage.parquet'}" in stats


def test_run_counts_bad_records_in_stats_json(tmp_path):
    (tmp_path / "raw").mkdir()
    lines = _lines(60).splitlines(keepends=True)
    lines[5] = b'{"content": 7}\n'
    (tmp_path / "raw" / "a.jsonl").write_bytes(b"".join(lines))
    data = zstandard.ZstdCompressor().compress(_lines(100, 100))
    (tmp_path / "raw" / "b.jsonl.zst").write_bytes(data[:-40])
    result = curate("--input", str(tmp_path / "raw"), "--output", str(tmp_path / "out"), "--skip", "near-dedup",
                    "--max-bad-fraction", "0.05")
    assert result.returncode == 0, result.stderr[-3000:]
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["bad"] == {"wrong_type": 1, "corrupt_file": 1}
    assert stats["corrupt_files"] == [str(tmp_path / "raw" / "b.jsonl.zst")]
    assert stats["documents_in"] == stats["records"] - 2 and stats["documents_out"] == stats["documents_in"]


def test_too_many_bad_records_publish_nothing_and_name_the_file(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_bytes(_lines(30))
    (tmp_path / "raw" / "b.jsonl.gz").write_bytes(gzip.compress(_lines(30))[:-30])
    line = refusal(curate("--input", str(tmp_path / "raw"), "--output", str(tmp_path / "out")))
    assert re.search(r": 1 of \d+ records are bad \(corrupt_file 1;", line) and str(tmp_path / "raw" / "b.jsonl.gz") in line
    assert "--max-bad-fraction" in line
    assert not (tmp_path / "out" / "stats.json").exists() and not (tmp_path / "out" / "data").exists()


def test_garbage_parquet_names_the_file(tmp_path):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "x.parquet").write_bytes(b"PAR1 garbage " * 30)
    line = refusal(curate("--input", str(tmp_path / "raw"), "--output", str(tmp_path / "out")))
    assert f"files that break off: {tmp_path / 'raw' / 'x.parquet'}" in line


def test_empty_input_and_missing_content_column(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "a.jsonl").write_bytes(b"")
    line = refusal(curate("--input", str(tmp_path / "empty"), "--output", str(tmp_path / "out1")))
    assert "hold no records" in line and "No files found" not in line
    (tmp_path / "nocontent").mkdir()
    pq.write_table(pa.Table.from_pylist([{"text": CODE, "path": "a.py"}] * 5), tmp_path / "nocontent" / "a.parquet")
    line = refusal(curate("--input", str(tmp_path / "nocontent"), "--output", str(tmp_path / "out2")))
    assert "missing_key 5" in line and "without the content column: check --schema" in line


def test_output_overlapping_input_is_refused(tmp_path, capsys):
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.jsonl").write_bytes(_lines(5))
    for output in (tmp_path / "raw", tmp_path / "raw" / "curated", tmp_path):
        assert main(["--skip", "malware", "--input", str(tmp_path / "raw"), "--output", str(output)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "overlaps --input" in err
    assert sorted(p.name for p in (tmp_path / "raw").iterdir()) == ["a.jsonl"]


def test_check_refuses_when_the_filters_remove_everything():
    summary = {"records": 3, "bad": {}, "bad_records": 0, "bad_fraction": 0.0, "corrupt_files": [],
               "documents_out": 0, "removed": {"autogenerated": 2, "enry_generated": 1}}
    with pytest.raises(RefusedInput, match=r"the filters removed all 3 records \(autogenerated 2, enry_generated 1\)"):
        check_input(summary, "raw", 0.01)
    check_input(dict(summary, documents_out=1), "raw", 0.01)
