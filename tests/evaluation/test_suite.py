"""`--suite starcoder2`: the paper's table from whatever --data-dir holds, each task that did not run
named with why, the released models' figures beside complete runs only; `--manifest` vouching for
files, recorded in summary.json, and a bad one refused in one line."""

import json

import pytest
from evaluate_tool import main, vouched

from megatron_sc2.evaluation import results
from megatron_sc2.evaluation.evaluate import ConfigError, EvalConfig
from megatron_sc2.evaluation.suite import STARCODER2, sections
from megatron_sc2.evaluation.suite import tasks as suite_tasks
from megatron_sc2.evaluation.tasks import TASKS, registry_key, sha256

EVALPLUS = ("HumanEvalPlus.jsonl.gz", "MbppPlus.jsonl.gz")


def rows(table: str) -> dict[tuple[str, str], str]:
    """The table's lines by (task, metric)."""
    return {tuple(line.split()[:2]): line for line in table.splitlines() if len(line.split()) > 2}


def test_a_complete_run_stands_the_papers_figures_beside_each_row_and_a_limited_one_none():
    every_row = [row for section in STARCODER2 for row in section.rows]
    assert set(results.PAPER) <= set(every_row)  # each published figure has its row
    complete: dict[str, dict] = {}
    for task, metric in every_row:
        complete.setdefault(task, {"problems": 10, "benchmark_problems": 10, "n": 1})[metric] = 0.5
    table = rows(results.table(complete, STARCODER2))
    for task, metric in every_row:
        line = table[task, metric]
        assert "10 problems x 1 sample" in line and "0.500" in line
        assert all(f"{figure:.3f}" in line for figure in results.PAPER.get((task, metric), {}).values())
    assert table["humaneval", "pass@1"].split()[-3:] == ["0.317", "0.354", "0.463"]
    assert table["fim-java", "exact_match"].split()[-3:] == ["0.750", "-", "0.605"]  # no figure: no cell
    limited = {task: {**values, "problems": 5} for task, values in complete.items()}
    text = results.table(limited, STARCODER2)
    assert "StarCoder2" not in text and "5 of 10 problems x 1 sample" in rows(text)["ds1000", "pass@1"]


def test_rows_of_tasks_not_registered_here_are_left_out():
    kept = {row for section in sections("starcoder2") for row in section.rows}
    for section in STARCODER2:
        for task, metric in section.rows:
            assert ((task, metric) in kept) == (registry_key(task) in TASKS)
    assert suite_tasks("starcoder2")[:2] == ["humaneval", "humaneval-plus"]


@pytest.mark.timeout(300)
def test_the_suite_runs_what_the_data_dir_holds_and_names_the_rest(parenthesis_model, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    manifest = vouched(data, *((name, name) for name in EVALPLUS))  # the fixtures: not the releases' sums
    output = tmp_path / "eval"
    status, out, err = main(capsys, "--model", parenthesis_model, "--suite", "starcoder2", "--tasks",
                            "humaneval-infill-spm", "--data-dir", data, "--manifest", manifest, "--limit", 1,
                            "--max-new-tokens", 2, "--output", output)
    assert status == 0, err
    table = rows(out)
    for section in sections("starcoder2"):
        assert section.title in out.splitlines()
        assert all(row in table for row in section.rows)
    assert " ".join(table["humaneval", "pass@1"].split()[2:]) == "1 of 164 problems x 1 sample -"  # no execution
    assert " ".join(table["humaneval-plus", "pass@1"].split()[2:]) == "1 of 3 problems x 1 sample -"
    assert table["humaneval-infill", "exact_match"].split()[-1] == "0.000"
    assert table["mbpp", "pass@1"].split(None, 2)[2] == "not run: no mbpp.jsonl in --data-dir"
    assert table["multiple-cpp", "pass@1"].split(None, 2)[2] == "not run: no multiple-cpp.jsonl in --data-dir"
    assert out.splitlines().index("Other tasks") < out.index("humaneval-infill-spm")  # --tasks besides the suite
    assert "StarCoder2" not in out  # --limit: not comparable to the paper

    summary = json.loads((output / "summary.json").read_text())
    assert set(summary["metrics"]) == {"humaneval", "humaneval-plus", "mbpp-plus", "humaneval-infill",
                                       "humaneval-infill-spm"}
    assert summary["skipped"]["mbpp"] == "no mbpp.jsonl in --data-dir"
    assert summary["manifest"] == {"path": str(manifest), "sha256": sha256(manifest),
                                   "vouched_for": {name: sha256(data / name) for name in EVALPLUS}}
    assert summary["options"]["suite"] == "starcoder2"


def test_an_unknown_suite_is_refused_without_argparse(tmp_path):
    with pytest.raises(ConfigError, match="--suite starcoder3: no such suite; choose from starcoder2"):
        EvalConfig(completions=tmp_path / "unread.jsonl", suite="starcoder3", output=tmp_path)


def test_a_task_asked_for_besides_the_suite_must_have_its_file(tmp_path, capsys):
    status, _, err = main(capsys, "--completions", tmp_path / "unread.jsonl", "--suite", "starcoder2", "--tasks",
                          "mbpp", "--data-dir", tmp_path, "--output", tmp_path / "eval")
    assert status == 2 and err.strip() == (
        f"evaluate: error: --data-dir {tmp_path}: no mbpp.jsonl (this tool never downloads: put the file there)")


@pytest.mark.parametrize("text, why", [
    ("{", "not JSON (Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"),
    ("[]", 'expected a JSON object of file name -> {"sha256": ..., "source": ...}, as manifest.json'),
    ('{"mbpp.jsonl": {"sha256": "AB"}}', """'mbpp.jsonl' needs a "sha256" of 64 lowercase hex digits (sha256sum FILE)"""),
    (None, "No such file or directory"),
])
def test_a_bad_manifest_is_one_line(tmp_path, capsys, text, why):
    manifest = tmp_path / "manifest.json"
    if text is not None:
        manifest.write_text(text)
    status, _, err = main(capsys, "--completions", tmp_path / "unread.jsonl", "--manifest", manifest,
                          "--output", tmp_path / "eval")
    assert status == 2 and err.strip() == f"evaluate: error: --manifest {manifest}: {why}"
