"""MBPP and MultiPL-E read only user files whose sha256 is in the manifest; a missing toolchain skips."""

import json
import shutil

import pytest

from megatron_sc2.evaluation.sandbox import RLIMITS, Limits, Sandbox, toolchain_missing
from megatron_sc2.evaluation.scoring import score
from megatron_sc2.evaluation.tasks import MANIFEST, MBPP, MultiPLE, sha256, verified_records

MBPP_RECORDS = [
    {"task_id": 11, "text": "Write a function to add two numbers.", "code": "def add(a, b):\n    return a + b",
     "test_list": ["assert add(1, 2) == 3", "assert add(0, 0) == 0"], "test_setup_code": ""},
    {"task_id": 12, "text": "Write a function to double a number.", "code": "def double(a):\n    return 2 * a",
     "test_list": ["assert double(2) == 4"], "test_setup_code": ""},
    {"task_id": 600, "text": "Outside the test split.", "code": "", "test_list": ["assert False"]},
]


@pytest.fixture
def data_dir(tmp_path):
    (tmp_path / "mbpp.jsonl").write_text("".join(json.dumps(r) + "\n" for r in MBPP_RECORDS))
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"mbpp.jsonl": {"sha256": sha256(tmp_path / "mbpp.jsonl"), "source": "test"}}))
    return tmp_path, manifest


def test_the_shipped_manifest_is_valid_json_of_sha256_sums():
    for name, entry in json.loads(MANIFEST.read_text()).items():
        assert name.endswith((".jsonl", ".jsonl.gz", ".parquet")) and len(entry["sha256"]) == 64


def test_mbpp_reads_a_manifest_file_and_its_oracle_passes(data_dir):
    folder, manifest = data_dir
    task = MBPP(folder, manifest)
    problems = task.problems()
    assert [p.task_id for p in problems] == ["11", "12"]  # the test split only
    assert problems[0].prompt == '"""\nWrite a function to add two numbers.\nassert add(1, 2) == 3\n"""\n'
    samples = [[(p.reference, task.program(p, p.reference))] for p in problems]
    metrics, records = score(task, problems, samples,
                             Sandbox(Limits(timeout_s=5), RLIMITS, workers=2), progress=False)
    assert metrics["pass@1"] == 1.0 and all(r["passed"] for r in records)


def test_a_changed_or_unlisted_file_is_refused(data_dir):
    folder, manifest = data_dir
    with open(folder / "mbpp.jsonl", "a") as f:
        f.write("\n")
    with pytest.raises(ValueError, match="differs from the manifest"):
        verified_records(folder, "mbpp.jsonl", manifest)
    (folder / "multiple-js.jsonl").write_text("{}\n")
    with pytest.raises(ValueError, match="not in the manifest"):
        MultiPLE(folder, "js", manifest)
    with pytest.raises(ValueError, match="never downloads"):
        verified_records(folder, "multiple-rb.jsonl", manifest)


def test_a_missing_toolchain_is_named_not_scored():
    assert toolchain_missing("python") is None
    assert "no runner" in toolchain_missing("cobol")
    if shutil.which("swiftc", path="/usr/bin:/bin") is None:
        assert toolchain_missing("swift") == "toolchain missing: swiftc (apt-get install swiftlang (not in Debian 12: " \
                                             "swift.org's tarball))"


@pytest.mark.skipif(toolchain_missing("sh") is not None, reason="bash is not installed")
def test_multiple_runs_another_language_through_its_interpreter(tmp_path):
    record = {"name": "HumanEval_0_add", "language": "sh", "prompt": "#!/bin/bash\nadd() {\n",
              "tests": '\n[[ "$(add 1 2)" == "3" ]] || exit 1\n', "stop_tokens": ["\n}"]}
    (tmp_path / "multiple-sh.jsonl").write_text(json.dumps(record) + "\n")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"multiple-sh.jsonl": {"sha256": sha256(tmp_path / "multiple-sh.jsonl")}}))
    task = MultiPLE(tmp_path, "sh", manifest)
    (problem,) = task.problems()
    right, wrong = "  echo $(( $1 + $2 ))\n}", "  echo 0\n}"
    samples = [[(c, task.program(problem, c)) for c in (right, wrong)]]
    metrics, records = score(task, [problem], samples, Sandbox(Limits(timeout_s=5), workers=2), ks=(1,), progress=False)
    assert [r["passed"] for r in records] == [True, False] and metrics["pass@1"] == 0.5
