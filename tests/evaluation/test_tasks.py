"""HumanEval and its infilling as scored through tools/evaluate.py: an oracle scores 1, a wrong one 0."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from megatron_sc2.data.special_tokens import EOD, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from megatron_sc2.evaluation.tasks.base import stop_at
from megatron_sc2.evaluation.tasks.humaneval import HumanEval
from megatron_sc2.evaluation.tasks.infill import HumanEvalInfill

REPO = Path(__file__).resolve().parents[2]


def evaluate(tmp_path, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tools/evaluate.py", "--output", str(tmp_path / "out"), "--no-progress",
                           *map(str, args)], capture_output=True, text=True, cwd=REPO, check=False, timeout=900)


def write_completions(path: Path, task, completion) -> Path:
    with open(path, "w") as f:
        f.writelines(json.dumps({"task": task.name, "task_id": p.task_id, "completion": completion(p)}) + "\n" for p in task.problems())
    return path


def test_humaneval_prompts_are_stripped_and_stop_as_the_harness_does():
    problems = HumanEval().problems()
    assert len(problems) == 164
    assert all(p.prompt == p.prompt.strip() for p in problems)
    assert stop_at("\n    return 1\nprint(f(1))\n", problems[0].stops) == "\n    return 1"
    assert stop_at("\n    return 1\n\n\ndef g():", problems[0].stops) == "\n    return 1\n\n"
    assert stop_at(f"\n    return 1{EOD}junk", problems[0].stops) == "\n    return 1"


def test_infilling_masks_each_solution_line_in_the_trained_fim_layouts():
    psm, spm = HumanEvalInfill().problems(), HumanEvalInfill(spm=True).problems()
    assert len(psm) == len(spm) == 1033  # the InCoder/SantaCoder single-line benchmark size
    first = psm[0]
    prefix, suffix = first.data["prefix"], first.data["suffix"]
    assert first.prompt == f"{FIM_PREFIX}{prefix}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}"
    # data/fim.py trains SPM as <fim_prefix><fim_suffix> suffix <fim_middle> prefix middle
    assert spm[0].prompt == f"{FIM_PREFIX}{FIM_SUFFIX}{suffix}{FIM_MIDDLE}{prefix}"
    assert prefix + first.reference + "\n" + suffix == first.data["prompt"] + first.data["canonical_solution"]


@pytest.mark.timeout(900)
def test_oracle_scores_one_and_wrong_completions_zero_on_all_164(tmp_path):
    task = HumanEval()
    oracle = write_completions(tmp_path / "oracle.jsonl", task, lambda p: p.reference)
    result = evaluate(tmp_path, "--completions", oracle, "--tasks", "humaneval", "--allow-code-execution")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["metrics"]["humaneval"]["pass@1"] == 1.0
    assert summary["metrics"]["humaneval"]["problems"] == 164
    assert summary["isolation"] in ("bubblewrap", "rlimits")
    assert "StarCoder2-15B" in result.stdout and "0.463" in result.stdout

    wrong = write_completions(tmp_path / "wrong.jsonl", task, lambda p: "\n    raise NotImplementedError\n")
    result = evaluate(tmp_path, "--completions", wrong, "--tasks", "humaneval", "--allow-code-execution")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["humaneval"]["pass@1"] == 0.0
    samples = [json.loads(line) for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 164 and {s["error"] for s in samples} == {"NotImplementedError"}


@pytest.mark.timeout(900)
def test_infilling_oracle_matches_exactly_and_passes(tmp_path):
    task = HumanEvalInfill()
    oracle = write_completions(tmp_path / "oracle.jsonl", task, lambda p: p.reference)
    result = evaluate(tmp_path, "--completions", oracle, "--tasks", "humaneval-infill")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["humaneval-infill"]
    assert metrics["exact_match"] == 1.0 and metrics["problems"] == 1033 and "pass@1" not in metrics

    result = evaluate(tmp_path, "--completions", oracle, "--tasks", "humaneval-infill", "--limit", 60,
                      "--allow-code-execution")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["humaneval-infill"]
    assert metrics["pass@1"] == 1.0 and metrics["exact_match"] == 1.0

    wrong = write_completions(tmp_path / "wrong.jsonl", task, lambda p: "    pass")
    result = evaluate(tmp_path, "--completions", wrong, "--tasks", "humaneval-infill", "--limit", 60)
    metrics = json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["humaneval-infill"]
    assert metrics["exact_match"] == 0.0


def test_bad_input_is_one_clear_line(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"task_id": "HumanEval/0"}\n')
    result = evaluate(tmp_path, "--completions", bad, "--tasks", "humaneval")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        f"evaluate: error: --completions {bad}:1: expected a JSON object with task_id and completion")
    good = tmp_path / "good.jsonl"
    good.write_text('{"task_id": "HumanEval/0", "completion": ""}\n')
    result = evaluate(tmp_path, "--completions", good, "--tasks", "nope")
    assert result.returncode == 2 and "unknown task 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
