"""canitedit prompts as CanItEdit prompts StarCoder2, and judges each edit as CanItEdit's evaluator does.

data/canitedit.jsonl holds three problems written for these tests in the schema of the published dataset
(nuprl/CanItEdit on the Hugging Face Hub, not reachable where they were written): id, name, full_name, before,
after, tests, instruction_descriptive, instruction_lazy, taxonomy. The third needs z3, and is skipped where z3
cannot be imported. data/canitedit_verdicts.json holds the reference's outputs: the prompt of one problem
(CanItEdit 6e1a362 generate_completions.py, `starcoder2_edit_prompt_1shot`), and per sample (a `completion`
after the prompt, or the edited program as `solution`) the program CanItEdit extracts (its
`python_markdown_codeblock_extract` of "```py\\n" + the generation cut at its stops), MultiPL-E's status for
it (the Python evaluator bigcode-evaluation-harness 8fc5bae6 vendors, as CanItEdit's container runs it) and
whether CanItEdit's pass_k.py (87967910) counts it. test_reference_scorers_agree reruns them from the mirrors
(SC2_REFERENCE_MIRRORS).
"""

import ast
import gzip
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow
import pyarrow.parquet
import pytest

from megatron_sc2.evaluation.canitedit import FILE, STOPS, CanItEdit
from megatron_sc2.evaluation.evaluate import EvalConfig, evaluate
from megatron_sc2.evaluation.libraries import runnable
from megatron_sc2.evaluation.sandbox import Limits, Sandbox
from megatron_sc2.evaluation.scoring import given_samples, read_completions, score
from megatron_sc2.evaluation.tasks import MANIFEST, make_task, sha256, stop_at

DATA = Path(__file__).parent / "data"
REFERENCE = json.loads((DATA / "canitedit_verdicts.json").read_text())
RECORDS = [json.loads(line) for line in (DATA / "canitedit.jsonl").read_text().splitlines()]
NEVER_ENDS = "2_stack_peek/lazy"
MIRRORS = Path(os.environ.get("SC2_REFERENCE_MIRRORS", "/nonexistent"))
CANITEDIT = MIRRORS / "nuprl+CanItEdit" / "repo"
HARNESS = MIRRORS / "bigcode-project+bigcode-evaluation-harness" / "repo"


def write_parquet(folder: Path, records: list[dict] = RECORDS) -> Path:
    """The fixture as the dataset's parquet file, and a manifest that accepts it."""
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(records), folder / FILE)
    manifest = folder / "manifest.json"
    manifest.write_text(json.dumps({FILE: {"sha256": sha256(folder / FILE)}}))
    return manifest


@pytest.fixture(scope="module")
def task(tmp_path_factory) -> CanItEdit:
    folder = tmp_path_factory.mktemp("canitedit")
    return CanItEdit(folder, write_parquet(folder))


def scored(task: CanItEdit, ids: set[str], limits: Limits, folder: Path) -> tuple[dict, dict[str, list[bool]]]:
    problems = [p for p in task.problems() if p.task_id in ids]
    path = folder / "samples.jsonl"
    path.write_text("".join(json.dumps(s) + "\n" for s in REFERENCE["samples"] if s["task_id"] in ids))
    metrics, records = score(task, problems, given_samples(task, problems, read_completions(path), path),
                             Sandbox(limits, workers=2), ks=(1,), progress=False)
    found: dict[str, list[bool]] = {}
    for record in records:
        found.setdefault(record["task_id"], []).append(record["passed"])
    return metrics, found


def reference(ids: set[str]) -> dict[str, list[bool]]:
    found: dict[str, list[bool]] = {}
    for sample in REFERENCE["samples"]:
        if sample["task_id"] in ids:
            found.setdefault(sample["task_id"], []).append(sample["passed"])
    return found


def test_the_prompt_and_the_edited_program_are_canitedits(task):
    problems = {p.task_id: p for p in task.problems()}
    assert len(problems) == 2 * len(RECORDS)  # each program with its descriptive and its lazy instruction
    assert problems[REFERENCE["prompt"]["task_id"]].prompt == REFERENCE["prompt"]["text"]
    for sample in REFERENCE["samples"]:
        if "completion" in sample:
            assert task.postprocess(problems[sample["task_id"]], sample["completion"]) == sample["edited"]
    assert task.group(problems["2_stack_peek/lazy"]) == "lazy"


@pytest.mark.timeout(300)
def test_verdicts_equal_canitedits_evaluator(task, tmp_path):
    ids = {s["task_id"] for s in REFERENCE["samples"]} - {NEVER_ENDS}
    metrics, ours = scored(task, ids, Limits(timeout_s=15), tmp_path)  # MultiPL-E's limit
    theirs = reference(ids)
    # The one difference: MultiPL-E passes a program that exits 0 before its tests run; the sandbox's runner
    # passes only a program that ran to its end (its tests included).
    assert theirs["1_running_total/lazy"][1] and not ours["1_running_total/lazy"][1]
    ours["1_running_total/lazy"][1] = True
    assert ours == theirs
    assert metrics["descriptive_pass@1"] == pytest.approx((1 / 3 + 2 / 3) / 2)
    assert metrics["lazy_pass@1"] == pytest.approx(1 / 3)  # ours: the exit(0) one fails


@pytest.mark.slow  # waits out the time limit
@pytest.mark.timeout(300)
def test_a_program_that_never_ends_fails_as_in_canitedit(task, tmp_path):
    _, ours = scored(task, {NEVER_ENDS}, Limits(timeout_s=3), tmp_path)
    assert ours == reference({NEVER_ENDS}) == {NEVER_ENDS: [False]}


@pytest.mark.timeout(300)
def test_a_problem_whose_library_cannot_be_imported_is_skipped(task):
    problems = task.problems()
    assert task.modules(problems[-1]) == ("z3",) and task.modules(problems[0]) == ()
    sandbox = Sandbox(Limits(timeout_s=30), workers=2)
    kept, report = runnable(task, problems, sandbox)
    if sandbox.interpreter == sys.executable:  # the sandbox imports what this Python imports
        assert (report["libraries"]["z3"] is None) == (importlib.util.find_spec("z3") is None)
    if report["libraries"]["z3"] is None:
        assert kept == problems[:4] and report["skipped_problems"] == 2 and report["skipped_for"] == {"z3": 2}
    else:
        assert kept == problems and report["skipped_problems"] == 0


@pytest.mark.timeout(300)
def test_an_evaluation_skips_the_problems_it_cannot_run_and_says_so(tmp_path, capsys):
    completions = tmp_path / "edits.jsonl"  # every edit right, as CanItEdit's completion files hold them
    completions.write_text("".join(json.dumps({"task_id": f"{r['full_name']}/{kind}", "solution": r["after"]}) + "\n"
                                   for r in RECORDS for kind in ("descriptive", "lazy")))

    def run(records: list[dict], folder: Path) -> dict:
        folder.mkdir()
        write_parquet(folder, records)
        return evaluate(EvalConfig(completions=completions, tasks=("canitedit",), data_dir=folder,
                                   manifest=folder / "manifest.json", timeout=15,
                                   allow_code_execution=True, no_progress=True, output=folder / "eval"))

    summary = run(RECORDS, tmp_path / "all")
    metrics = summary["metrics"]["canitedit"]
    if metrics["libraries"]["z3"] is not None:
        pytest.skip("z3 is importable here: nothing to skip")
    assert metrics["pass@1"] == metrics["descriptive_pass@1"] == metrics["lazy_pass@1"] == 1.0
    assert (metrics["problems"], metrics["benchmark_problems"], metrics["skipped_problems"]) == (4, 6, 2)
    assert metrics["skipped_for"] == {"z3": 2}
    out, err = capsys.readouterr()
    assert "canitedit: skipping 2 problems: the sandbox's Python cannot import z3" in err
    assert "canitedit: 4 of 6 problems (2 skipped, see summary.json)" in out
    summary = run(RECORDS[2:], tmp_path / "z3")  # nothing left to run: the task is skipped, as a missing toolchain
    assert "canitedit" not in summary["metrics"] and "cannot import z3" in summary["skipped"]["canitedit"]


def test_the_published_file_is_the_manifests_and_the_task_needs_it(tmp_path):
    assert FILE in json.loads(MANIFEST.read_text())
    with pytest.raises(ValueError, match="--data-dir DIR"):
        make_task("canitedit", None)
    with pytest.raises(ValueError, match=f"no {FILE}"):
        make_task("canitedit", tmp_path)
    write_parquet(tmp_path)  # the fixture, not the published file: refused
    with pytest.raises(ValueError, match="differs from the manifest"):
        make_task("canitedit", tmp_path)
    manifest = write_parquet(tmp_path, [{k: v for k, v in r.items() if k != "tests"} for r in RECORDS])
    with pytest.raises(ValueError, match=f"{FILE}: record 1 has no tests: each record needs full_name, before"):
        CanItEdit(tmp_path, manifest)


# ---- the reference itself -----------------------------------------------------------------------

def _show(repo: Path, spec: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "show", spec], capture_output=True, text=True, check=True).stdout


@pytest.mark.slow  # MultiPL-E's evaluator runs every stored program again (one waits out its 15 s)
@pytest.mark.timeout(300)
@pytest.mark.skipif(not (CANITEDIT / "HEAD").exists() or not (HARNESS / "HEAD").exists(),
                    reason=f"no mirrors of nuprl/CanItEdit and bigcode-evaluation-harness in {MIRRORS} "
                           "(set SC2_REFERENCE_MIRRORS)")
def test_reference_scorers_agree(tmp_path, monkeypatch):
    """CanItEdit's prompt and extraction, MultiPL-E's evaluator and CanItEdit's pass count give the stored values."""
    source = _show(CANITEDIT, "6e1a362:benchmark/generate_completions.py")
    wanted = ("starcoder2_edit_prompt_1shot", "python_markdown_codeblock_extract")
    functions = [n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef) and n.name in wanted]
    generate: dict = {}
    module = ast.Module(body=functions, type_ignores=[])
    exec(compile(module, "generate_completions.py", "exec"), generate)  # noqa: S102
    pass_k: dict = {"__name__": "pass_k"}
    exec(compile(_show(CANITEDIT, "87967910:benchmark/pass_k.py"), "pass_k.py", "exec"), pass_k)  # noqa: S102
    package = tmp_path / "multiple_metrics"  # MultiPL-E's Python evaluator, as the harness vendors it
    (package / "safe_subprocess").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    vendored = "8fc5bae6:bigcode_eval/tasks/custom_metrics/multiple_metrics"
    (package / "eval_python.py").write_text(_show(HARNESS, f"{vendored}/eval_python.py"))
    (package / "safe_subprocess" / "__init__.py").write_text(_show(HARNESS, f"{vendored}/safe_subprocess/__init__.py"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # its python3: this one
    eval_python = importlib.import_module("multiple_metrics.eval_python")

    records = {r["full_name"]: r for r in RECORDS}
    name, kind = REFERENCE["prompt"]["task_id"].split("/")
    assert generate["starcoder2_edit_prompt_1shot"](records[name]["before"], records[name][f"instruction_{kind}"],
                                                    "") == REFERENCE["prompt"]["text"]
    for i, sample in enumerate(REFERENCE["samples"]):
        record = records[sample["task_id"].split("/")[0]]
        edited = (generate["python_markdown_codeblock_extract"]("", "```py\n" + stop_at(sample["completion"], STOPS))
                  if "completion" in sample else sample["solution"])
        assert edited == sample["edited"]
        program = tmp_path / f"program_{i}.py"
        program.write_text("" + edited + "\n" + record["tests"])  # MultiPL-E: prompt + completion + "\n" + tests
        result = eval_python.eval_script(program)
        results = tmp_path / f"program_{i}.results.json.gz"
        with gzip.open(results, "wt") as f:
            json.dump({"results": [result], "before": record["before"], "temperature": 0.2, "id": record["id"]}, f)
        assert (result["status"], pass_k["for_file"](results)["c"] == 1) == (sample["status"], sample["passed"])
