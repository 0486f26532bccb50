"""gsm8k-pal prompts, post-processes and judges each sample as bigcode-evaluation-harness's
`pal-gsm8k-greedy` does.

data/gsm8k_test.jsonl holds four records of GSM8K's test split (openai/grade-school-math 3101c7d5,
grade_school_math/data/test.jsonl lines 1, 2, 3 and 490) as released. data/gsm8k_pal_verdicts.json
holds generations for them (what the model wrote after the prompt, ending as the harness's greedy
generation ends: with the stop `\n\n\n`), right and wrong: a float within and
one at the harness's 1e-3, an empty answer, a program that prints nothing, an exception, a sum that runs
inside one C call past the harness's 3 s (first: it runs while the others do), the answer after printed
steps, `Q:` inside the code, the next question generated after the answer, an early `os._exit`, a
thousands separator, a negative answer, the answer printed without `solution()`. Beside each: the
program and the verdict the harness's code gave at HARNESS_COMMIT (`Gsm8k.postprocess_generation`, then
`pal_code_exec.compute` on that one program). CI compares ours with them;
test_the_harness_own_code_gives_the_stored_verdicts reruns the harness's code from a checkout
(SC2_BIGCODE_HARNESS) and skips, saying so, without one.
"""

import json
import os
import shutil
import sys
import types
from pathlib import Path

import pytest
from evaluation.published import BASE_TASK, accepting_manifest, assert_refused_in_one_line, write_from_git

from megatron_sc2.evaluation.gsm8k_pal import GSM8KPAL
from megatron_sc2.evaluation.sandbox import Sandbox

DATA = Path(__file__).parent / "data"
STORED = json.loads((DATA / "gsm8k_pal_verdicts.json").read_text())
CASES = STORED["samples"]
HARNESS_COMMIT = "8fc5bae6"
HARNESS = Path(os.environ.get("SC2_BIGCODE_HARNESS", "/nonexistent"))  # a bigcode-evaluation-harness git directory


def fixture_task(folder: Path) -> GSM8KPAL:
    shutil.copy(DATA / "gsm8k_test.jsonl", folder / "gsm8k_test.jsonl")
    return GSM8KPAL(folder, accepting_manifest(folder, "gsm8k_test.jsonl"))


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> list[tuple[str, object]]:
    """Per stored sample, our program and outcome; all programs in one sandbox run."""
    task = fixture_task(tmp_path_factory.mktemp("gsm8k"))
    problems = {p.task_id: p for p in task.problems()}
    completions = [task.postprocess(problems[case["task_id"]], case["generation"]) for case in CASES]
    sandbox = Sandbox(workers=os.cpu_count())
    outcomes = sandbox.run_many([sandbox.program("python", task.program(problems[case["task_id"]], completion))
                                 for case, completion in zip(CASES, completions)])
    return list(zip(completions, outcomes))


def test_programs_and_verdicts_are_the_harness(ours):
    assert [program for program, _ in ours] == [case["program"] for case in CASES]
    assert [outcome.passed for _, outcome in ours] == [case["passed"] for case in CASES], \
        [outcome.output for _, outcome in ours]
    passed = {case["case"]: case["passed"] for case in CASES}
    assert passed["float within the tolerance"] and not passed["float at the tolerance"]
    assert not passed["prints nothing"] and not passed["runs past 3 s inside one C call"]
    slow = next(outcome for case, (_, outcome) in zip(CASES, ours) if case["case"].startswith("runs past"))
    assert slow.seconds < 8  # ended at the harness's 3 + 1 s, not at the sandbox's 10 s


def test_the_prompt_is_eight_solved_examples_then_the_question(tmp_path):
    problems = fixture_task(tmp_path).problems()
    prompt = problems[0].prompt
    assert prompt.count("# solution in Python:") == 9 and prompt.count("def solution():") == 8
    assert prompt.startswith("Q: Olivia has $23.") and prompt.endswith(
        f"Q: {problems[0].data['question']}\n\n# solution in Python:\n\n\n")
    assert [p.data["reference"] for p in problems] == ["18", "3", "70000", "-10"]
    assert problems[0].stops == ("\n\n\n", "<|endoftext|>")


def test_a_wrong_or_malformed_gsm8k_file_is_one_line(tmp_path, capsys):
    assert_refused_in_one_line(tmp_path, capsys, "gsm8k-pal", DATA / "gsm8k_test.jsonl", "gsm8k_test.jsonl")
    (tmp_path / "gsm8k_test.jsonl").write_text(json.dumps({"question": "How many?", "solution": "#### 3"}) + "\n")
    with pytest.raises(ValueError) as error:
        GSM8KPAL(tmp_path, accepting_manifest(tmp_path, "gsm8k_test.jsonl"))
    assert str(error.value) == f"{tmp_path / 'gsm8k_test.jsonl'}: record 1 has no answer: each record needs " \
                               "question, answer"


# ---- the harness's own code ---------------------------------------------------------------------

HARNESS_FILES = ("bigcode_eval/tasks/gsm.py", "bigcode_eval/tasks/custom_metrics/__init__.py",
                 "bigcode_eval/tasks/custom_metrics/pal_metric/__init__.py",
                 "bigcode_eval/tasks/custom_metrics/pal_metric/pal_code_exec.py",
                 "bigcode_eval/tasks/custom_metrics/pal_metric/python_executor.py",
                 "bigcode_eval/tasks/few_shot_examples/gsm8k_few_shot_prompts.json")


@pytest.fixture
def harness(tmp_path, monkeypatch):
    """The harness's GSM8K task and PAL metric at HARNESS_COMMIT, importable from tmp_path (its working
    folder: gsm.py opens the few-shot file from there). Stand-ins: `bigcode_eval.base.Task`, the package
    `__init__`s that import every task, and the `evaluate` package gsm.py imports but does not use here."""
    write_from_git(HARNESS, HARNESS_COMMIT, {name: name for name in HARNESS_FILES}, tmp_path)
    (tmp_path / "bigcode_eval" / "__init__.py").write_text("")
    (tmp_path / "bigcode_eval" / "tasks" / "__init__.py").write_text("")
    (tmp_path / "bigcode_eval" / "base.py").write_text(BASE_TASK)
    evaluate = types.ModuleType("evaluate")
    evaluate.load = None
    monkeypatch.setitem(sys.modules, "evaluate", evaluate)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_ALLOW_CODE_EVAL", "1")
    yield
    for name in [m for m in sys.modules if m == "bigcode_eval" or m.startswith("bigcode_eval.")]:
        del sys.modules[name]


@pytest.mark.slow  # a process per program, one for the harness's 3 + 1 s
@pytest.mark.skipif(not (HARNESS / "HEAD").exists() and not (HARNESS / ".git").exists(),
                    reason=f"no bigcode-evaluation-harness checkout at {HARNESS} (set SC2_BIGCODE_HARNESS)")
def test_the_harness_own_code_gives_the_stored_verdicts(harness, tmp_path):
    from bigcode_eval.tasks.gsm import create_all_tasks

    reference = create_all_tasks()["pal-gsm8k-greedy"]()
    records = [json.loads(line) for line in (DATA / "gsm8k_test.jsonl").read_text().splitlines()]
    problems = fixture_task(tmp_path).problems()
    assert [p.prompt for p in problems] == [reference.get_prompt(r) for r in records]
    assert [float(p.data["reference"]) for p in problems] == [float(reference.get_reference(r)) for r in records]
    assert reference.stop_words == ["\n\n\n"]
    found = []
    for case in CASES:
        index = int(case["task_id"])
        program = reference.postprocess_generation(reference.get_prompt(records[index]) + case["generation"], index)
        result = reference.process_results([[program]], [reference.get_reference(records[index])])
        found.append({**case, "program": program, "passed": result["accuracy"] == 1.0})
    assert found == CASES
