"""fim-py, fim-js and fim-java prompt and score as bigcode-evaluation-harness 8fc5bae6's `starcoder_fim` does
(string_publishers.HARNESS_COMMIT).

data/santacoder_fim.json holds rows in bigcode/santacoder-fim-task's schema, made up here (the dataset is on the
Hugging Face Hub, which this project never downloads from), two per language, and raw generations: exact then
`<|endoftext|>`, `<file_sep>` or `<|filename|>`, differing in surrounding spaces, going on to a second line,
empty, whitespace only, unicode, holding a FIM token (no stop word of the harness), wrong.
data/santacoder_fim_publisher.json holds the harness's prompt per row, and its postprocessed generation and
exact match per sample.
"""

import json
from pathlib import Path

import pyarrow
import pyarrow.parquet
import pytest
from evaluation.string_publishers import HARNESS, fim_outputs, fixture, missing

from megatron_sc2.evaluation.sandbox import RLIMITS, Limits, Sandbox
from megatron_sc2.evaluation.santacoder_fim import FILE, SantaCoderFIM
from megatron_sc2.evaluation.scoring import score
from megatron_sc2.evaluation.tasks import MANIFEST, make_task, sha256

CASES, STORED = fixture("santacoder_fim"), fixture("santacoder_fim_publisher")


def write_release(folder: Path, rows: list[dict]) -> Path:
    pyarrow.parquet.write_table(pyarrow.Table.from_pylist(rows), folder / FILE)
    (folder / "manifest.json").write_text(json.dumps({FILE: {"sha256": sha256(folder / FILE)}}))
    return folder / "manifest.json"


@pytest.fixture(scope="module")
def tasks(tmp_path_factory) -> dict[str, SantaCoderFIM]:
    folder = tmp_path_factory.mktemp("santacoder_fim")
    manifest = write_release(folder, CASES["records"])
    return {language: SantaCoderFIM(folder, language, manifest) for language in ("py", "js", "java")}


def problem_of(tasks, row: dict):
    return next(p for p in tasks[row["language"]].problems() if p.task_id == row["name"])


def test_prompts_are_the_harness_s(tasks):
    assert [len(task.problems()) for task in tasks.values()] == [2, 2, 2]
    for row, theirs in zip(CASES["records"], STORED["prompts"]):
        assert problem_of(tasks, row).prompt == theirs


def test_every_sample_scores_as_the_harness_scores_it_and_nothing_runs(tasks):
    python: dict[str, list] = {p.task_id: [] for p in tasks["py"].problems()}
    for sample, theirs in zip(CASES["samples"], STORED["samples"]):
        row = CASES["records"][sample["record"]]
        task, problem = tasks[row["language"]], problem_of(tasks, row)
        completion = task.postprocess(problem, sample["generation"])
        assert completion == theirs["pred"]
        assert task.string_metrics(problem, completion) == {"exact_match": theirs["em"] == 1}
        if row["language"] == "py":
            python[problem.task_id].append((completion, task.program(problem, completion)))
    assert {s["em"] for s in STORED["samples"]} == {0, 1}
    metrics, records = score(tasks["py"], tasks["py"].problems(), list(python.values()),
                             Sandbox(Limits(), RLIMITS, workers=1), progress=False)
    assert metrics == {"problems": 2, "n": 2, "exact_match": 0.5}  # the harness's `py Exact Match`; no pass@k
    assert len(records) == 6 and all("passed" not in r for r in records)


def test_the_manifest_names_the_hubs_file_and_a_task_needs_it(tmp_path):
    assert len(json.loads(MANIFEST.read_text())[FILE]["sha256"]) == 64
    with pytest.raises(ValueError, match="--tasks fim-js reads its file from --data-dir DIR"):
        make_task("fim-js", None)
    with pytest.raises(ValueError, match=f"no {FILE} "):
        make_task("fim-js", tmp_path)
    write_release(tmp_path, CASES["records"])  # the fixture, not the published file: refused
    with pytest.raises(ValueError, match="differs from the manifest's"):
        make_task("fim-js", tmp_path)
    manifest = write_release(tmp_path, [{k: v for k, v in r.items() if k != "suffix"} for r in CASES["records"]])
    with pytest.raises(ValueError, match="record 1 has no suffix: each record needs"):
        SantaCoderFIM(tmp_path, "py", manifest)


@pytest.mark.skipif(missing(HARNESS) is not None, reason=str(missing(HARNESS)))
def test_the_harness_gives_the_stored_outputs():
    assert fim_outputs(CASES) == STORED
