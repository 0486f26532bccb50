"""ds1000 scores each sample as DS-1000's own checker does, after bigcode-evaluation-harness's post-processing.

data/ds1000.jsonl holds five records of DS-1000's release as published (problems 0, 330, 456, 536 and 666 of
xlang-ai/DS-1000 data/ds1000.jsonl.gz, the file the manifest names, from its copy in ruc-datalab/DeepAnalyze
0b54741 playground/DS-1000): Pandas; a Numpy problem in function form, whose prompt has no harness marker;
Numpy with a test_string; Matplotlib; TensorFlow, skipped where TensorFlow cannot be imported.
data/ds1000_verdicts.json holds per sample (a `completion` after the prompt, or DS-1000's own answer as
`solution`) the answer bigcode-evaluation-harness 8fc5bae6 makes of it (GeneralDS1000.postprocess_generation,
Completion mode) and DS-1000's verdict (its execution.check_correctness, timeout 120, on the program its
test_ds1000.py builds). test_reference_scorers_agree reruns both from their mirrors (SC2_REFERENCE_MIRRORS).
"""

import ast
import gzip
import hashlib
import importlib.util
import json
import os
import subprocess
import sys
import types
from pathlib import Path

import numpy
import pytest

from megatron_sc2.evaluation.ds1000 import DS1000, FILE, answer_program
from megatron_sc2.evaluation.libraries import runnable
from megatron_sc2.evaluation.sandbox import Limits, Sandbox
from megatron_sc2.evaluation.scoring import given_samples, read_completions, score
from megatron_sc2.evaluation.tasks import MANIFEST, make_task, sha256

DATA = Path(__file__).parent / "data"
STORED = json.loads((DATA / "ds1000_verdicts.json").read_text())["samples"]
QUICK = ("456", "330")  # numpy only; 0 (pandas) and 536 (matplotlib) import for seconds: the slow test
MIRRORS = Path(os.environ.get("SC2_REFERENCE_MIRRORS", "/nonexistent"))
DS1000_COPY = MIRRORS / "ruc-datalab+DeepAnalyze" / "repo"  # DS-1000 as vendored there, at DS1000_COMMIT
DS1000_COMMIT, DS1000_FOLDER = "0b54741848df5c157303eb82f80a8dca1afb438f", "playground/DS-1000"
HARNESS = MIRRORS / "bigcode-project+bigcode-evaluation-harness" / "repo"
HARNESS_COMMIT = "8fc5bae6"


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> DS1000:
    folder = tmp_path_factory.mktemp("ds1000")
    with gzip.open(folder / FILE, "wb") as f:
        f.write((DATA / "ds1000.jsonl").read_bytes())
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({FILE: {"sha256": sha256(folder / FILE)}}))
    return DS1000(folder, manifest)


@pytest.fixture(scope="module")
def sandbox() -> Sandbox:
    return Sandbox(Limits(timeout_s=60), workers=2)


@pytest.fixture(scope="module")
def quick(task, sandbox) -> tuple[list, list, dict]:
    """The quick problems and TensorFlow's: those the sandbox can run, and the report (one probe of their libraries)."""
    problems = [p for p in task.problems() if p.task_id in (*QUICK, "666")]
    return problems, *runnable(task, problems, sandbox)


def scored(task: DS1000, sandbox: Sandbox, problems: list, folder: Path) -> tuple[dict, list[dict]]:
    """Our metrics and records for the stored samples of `problems`, read as a --completions file."""
    ids = {p.task_id for p in problems}
    path = folder / "samples.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in STORED if s["task_id"] in ids))
    return score(task, problems, given_samples(task, problems, read_completions(path), path), sandbox, ks=(1,),
                 progress=False)


def expected(ids: tuple[str, ...]) -> list[tuple[str, str, bool]]:
    return sorted((s["task_id"], s["answer"], s["passed"]) for s in STORED if s["task_id"] in ids)


def pass_at_1(ids: tuple[str, ...]) -> float:
    per_problem = [[s["passed"] for s in STORED if s["task_id"] == i] for i in ids]
    return sum(sum(p) / len(p) for p in per_problem) / len(ids)


def test_each_completion_becomes_the_harness_answer(task):
    problems = {p.task_id: p for p in task.problems()}
    assert set(problems) == {"0", "330", "456", "536", "666"}
    assert problems["0"].prompt.endswith("BEGIN SOLUTION\n<code>\n") and "</code>" in problems["0"].stops
    for sample in STORED:
        if "completion" in sample:
            assert task.postprocess(problems[sample["task_id"]], sample["completion"]) == sample["answer"]
    # a prompt without the harness's markers stays in the answer, so the program never runs
    assert task.postprocess(problems["330"], "\n    return a\n</code>").startswith("Problem:")


@pytest.mark.timeout(300)
def test_verdicts_equal_ds1000s_own_checker(task, sandbox, quick, tmp_path):
    _, kept, _ = quick
    if {p.task_id for p in kept} != set(QUICK):
        pytest.skip(f"the sandbox's Python ({sandbox.interpreter}) cannot import numpy")
    metrics, records = scored(task, sandbox, kept, tmp_path)
    assert sorted((r["task_id"], r["completion"], r["passed"]) for r in records) == expected(QUICK)
    assert {True, False} == {r["passed"] for r in records}
    assert metrics["Numpy_pass@1"] == metrics["pass@1"] == pytest.approx(pass_at_1(QUICK))


@pytest.mark.slow  # pandas and matplotlib take seconds to import in each program
@pytest.mark.timeout(300)
def test_verdicts_equal_ds1000s_own_checker_for_pandas_and_matplotlib(task, sandbox, tmp_path):
    problems, _ = runnable(task, [p for p in task.problems() if p.task_id in ("0", "536")], sandbox)
    if len(problems) < 2:
        pytest.skip(f"the sandbox's Python ({sandbox.interpreter}) cannot import pandas or matplotlib")
    metrics, records = scored(task, sandbox, problems, tmp_path)
    assert sorted((r["task_id"], r["completion"], r["passed"]) for r in records) == expected(("0", "536"))
    assert metrics["Pandas_pass@1"] == metrics["Matplotlib_pass@1"] == 0.5


def test_a_problem_whose_library_cannot_be_imported_is_skipped_and_versions_are_reported(task, sandbox, quick):
    problems, kept, report = quick
    assert [task.modules(p) for p in problems] == [("numpy",), ("numpy",), ("tensorflow",)]
    if sandbox.interpreter == sys.executable:  # the sandbox imports what this Python imports
        assert report["libraries"]["numpy"] == numpy.__version__
        assert (report["libraries"]["tensorflow"] is None) == (importlib.util.find_spec("tensorflow") is None)
    missing = [name for name, version in report["libraries"].items() if version is None]
    assert [p.task_id for p in kept] == [p.task_id for p in problems if not set(task.modules(p)) & set(missing)]
    assert report["skipped_problems"] == len(problems) - len(kept)
    assert report["skipped_for"] == {name: sum(name in task.modules(p) for p in problems) for name in missing}


def test_the_release_is_the_manifests_and_the_task_needs_it(tmp_path):
    assert FILE in json.loads(MANIFEST.read_text())
    with pytest.raises(ValueError, match="--data-dir DIR"):
        make_task("ds1000", None)
    with pytest.raises(ValueError, match=f"no {FILE}"):
        make_task("ds1000", tmp_path)
    with gzip.open(tmp_path / FILE, "wb") as f:  # the fixture, not the release: refused
        f.write((DATA / "ds1000.jsonl").read_bytes())
    with pytest.raises(ValueError, match="differs from the manifest"):
        make_task("ds1000", tmp_path)


# ---- the reference scorers themselves -----------------------------------------------------------

def _show(repo: Path, spec: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), "show", spec], capture_output=True, check=True).stdout


@pytest.mark.slow  # DS-1000's checker runs every stored program again, outside a sandbox
@pytest.mark.timeout(600)
@pytest.mark.skipif(not (DS1000_COPY / "HEAD").exists() or not (HARNESS / "HEAD").exists(),
                    reason=f"no mirrors of ruc-datalab/DeepAnalyze (DS-1000's copy) and bigcode-evaluation-harness in "
                           f"{MIRRORS} (set SC2_REFERENCE_MIRRORS)")
def test_reference_scorers_agree():
    """The harness's post-processing and DS-1000's checker give the stored answers and verdicts, and the
    fixture's records are lines of the release the manifest names."""
    release = _show(DS1000_COPY, f"{DS1000_COMMIT}:{DS1000_FOLDER}/data/{FILE}")
    assert hashlib.sha256(release).hexdigest() == json.loads(MANIFEST.read_text())[FILE]["sha256"]
    lines = set(gzip.decompress(release).decode().splitlines(keepends=True))
    fixture = (DATA / "ds1000.jsonl").read_text().splitlines(keepends=True)
    assert all(line in lines for line in fixture)
    records = {str(json.loads(line)["metadata"]["problem_id"]): json.loads(line) for line in fixture}

    source = _show(HARNESS, f"{HARNESS_COMMIT}:bigcode_eval/tasks/ds1000.py").decode()
    harness = next(n for n in ast.parse(source).body if isinstance(n, ast.ClassDef) and n.name == "GeneralDS1000")
    method = next(n for n in harness.body if isinstance(n, ast.FunctionDef) and n.name == "postprocess_generation")
    namespace: dict = {}
    exec(compile(ast.Module(body=[method], type_ignores=[]), "ds1000.py", "exec"), namespace)  # noqa: S102
    completion_mode = types.SimpleNamespace(_mode="Completion", stop_words=["</code>", "# SOLUTION END"])
    execution: dict = {"__name__": "execution"}
    reference = _show(DS1000_COPY, f"{DS1000_COMMIT}:{DS1000_FOLDER}/execution.py")
    exec(compile(reference, "execution.py", "exec"), execution)  # noqa: S102
    for sample in STORED:
        record = records[sample["task_id"]]
        answer = (namespace["postprocess_generation"](completion_mode, record["prompt"] + sample["completion"], 0)
                  if "completion" in sample else sample["solution"])
        assert answer == sample["answer"]
        # test_ds1000.py's program, written out as it builds it
        program = (record["code_context"] + "\n" + f"code = {answer!r}\n" + "test_execution(code)\n"
                   + ("test_string(code)\n" if "test_string(" in record["code_context"] else "\n"))
        assert answer_program(record["code_context"], answer) == program
        assert execution["check_correctness"](program, timeout=120)["passed"] == sample["passed"], sample
