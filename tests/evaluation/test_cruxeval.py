"""cruxeval-i and cruxeval-o post-process and judge each sample as CRUXEval's own code does.

data/cruxeval.jsonl holds five records of CRUXEval's data/cruxeval.jsonl (facebookresearch/cruxeval
190faf16) as released. data/cruxeval_verdicts.json holds generations for them (as the generator returns
them: cut before `[/ANSWER]`), right and wrong: another right input, a float output written a hair off and
one written longer that parses equal, an input that loops forever (first: it runs for CRUXEval's 3 s while
the others run), an exception, a syntax error, a
prediction CRUXEval does not run (no `f(`, or the call itself as the output), `exit(0)`. Beside each:
the prediction and the verdict CRUXEval's code gave at COMMIT (its `postprocess_generation` of
`inference/tasks/*_prediction.py`, then `evaluation/utils_general.py`'s `evaluate_score` on that one
prediction). CI compares ours with them; test_cruxevals_own_code_gives_the_stored_verdicts reruns
CRUXEval's code from a mirror (SC2_REFERENCE_MIRRORS) and skips, saying so, without one; with it,
test_our_verdicts_on_a_models_published_samples_are_cruxevals also compares ours with the verdicts CRUXEval
published for Code Llama 7B's samples (its samples/ folder).
"""

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from evaluation.published import BASE_TASK, accepting_manifest, assert_refused_in_one_line, write_from_git

from megatron_sc2.evaluation.cruxeval import CRUXEval
from megatron_sc2.evaluation.sandbox import Sandbox
from megatron_sc2.evaluation.tasks import make_task

DATA = Path(__file__).parent / "data"
STORED = json.loads((DATA / "cruxeval_verdicts.json").read_text())
CASES = STORED["samples"]
COMMIT = "190faf16d175b5847b0af05d937872b1fb395942"
CRUXEVAL = Path(os.environ.get("SC2_REFERENCE_MIRRORS", "/nonexistent")) / "facebookresearch+cruxeval" / "repo"


def fixture_tasks(folder: Path) -> dict:
    """Both tasks on the fixture file, under a manifest that accepts it."""
    shutil.copy(DATA / "cruxeval.jsonl", folder / "cruxeval.jsonl")
    manifest = accepting_manifest(folder, "cruxeval.jsonl")
    return {task.name: task for task in (CRUXEval(folder, False, manifest), CRUXEval(folder, True, manifest))}


@pytest.fixture(scope="module")
def ours(tmp_path_factory) -> list[tuple[str, object]]:
    """Per stored sample, our prediction and outcome; all programs in one sandbox run."""
    tasks = fixture_tasks(tmp_path_factory.mktemp("cruxeval"))
    problems = {(name, p.task_id): p for name, task in tasks.items() for p in task.problems()}
    predictions, programs = [], []
    for case in CASES:
        task, problem = tasks[case["task"]], problems[case["task"], case["task_id"]]
        predictions.append(task.postprocess(problem, case["generation"]))
        programs.append(task.program(problem, predictions[-1]))
    sandbox = Sandbox(workers=os.cpu_count())
    return list(zip(predictions, sandbox.run_many([sandbox.program("python", p) for p in programs])))


def test_predictions_and_verdicts_are_cruxevals(ours):
    assert [prediction for prediction, _ in ours] == [case["prediction"] for case in CASES]
    assert [outcome.passed for _, outcome in ours] == [case["passed"] for case in CASES], \
        [outcome.output for _, outcome in ours]
    assert {(case["task"], case["passed"]) for case in CASES} == {(t, v) for t in ("cruxeval-i", "cruxeval-o")
                                                                  for v in (True, False)}
    errors = {case["case"]: outcome.error for case, (_, outcome) in zip(CASES, ours)}
    assert errors["input loops forever"] == "TimeoutException"
    assert errors["no call of f"] == errors["the call as the output"] == "AssertionError"  # not run, said why
    assert "CRUXEval does not run this prediction" in ours[[c["case"] for c in CASES].index("no call of f")][1].output


def test_prompts_stop_at_the_answer_tag_and_the_oracle_passes_its_post_processing(tmp_path):
    tasks = fixture_tasks(tmp_path)
    problem = tasks["cruxeval-i"].problems()[0]
    assert problem.prompt.endswith(f"[PYTHON]\n{problem.data['code']}\nassert f(??) == {problem.data['output']}\n"
                                   "[/PYTHON]\n[ANSWER]\n")
    assert tasks["cruxeval-i"].postprocess(problem, "assert f('a') == 1\n[/ANSWER]\nassert f('b')") == "f('a')"
    for task in tasks.values():
        for p in task.problems():
            expected = f"f({p.data['input']})" if task.name == "cruxeval-i" else p.data["output"]
            assert task.postprocess(p, p.reference) == expected


def test_a_wrong_or_malformed_cruxeval_file_is_one_line(tmp_path, capsys):
    assert_refused_in_one_line(tmp_path, capsys, "cruxeval-o", DATA / "cruxeval.jsonl", "cruxeval.jsonl")
    records = [json.loads(line) for line in (DATA / "cruxeval.jsonl").read_text().splitlines()]
    del records[2]["output"]
    (tmp_path / "cruxeval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    with pytest.raises(ValueError) as error:
        CRUXEval(tmp_path, True, accepting_manifest(tmp_path, "cruxeval.jsonl"))
    assert str(error.value) == f"{tmp_path / 'cruxeval.jsonl'}: record 3 has no output: each record needs code, " \
                               "input, output, id"


# ---- CRUXEval's own code -------------------------------------------------------------------------

@pytest.fixture
def cruxeval(tmp_path, monkeypatch):
    """CRUXEval's prompts.py, inference tasks and evaluation modules at COMMIT, importable (its tasks' base
    class: a stand-in, the dataset is set after)."""
    write_from_git(CRUXEVAL, COMMIT, {
        "prompts.py": "prompts.py", "utils_execute.py": "evaluation/utils_execute.py",
        "utils_general.py": "evaluation/utils_general.py",
        "cruxeval_tasks/input_prediction.py": "inference/tasks/input_prediction.py",
        "cruxeval_tasks/output_prediction.py": "inference/tasks/output_prediction.py"}, tmp_path)
    (tmp_path / "cruxeval_tasks" / "__init__.py").write_text("")
    (tmp_path / "cruxeval_tasks" / "base.py").write_text(BASE_TASK)
    monkeypatch.syspath_prepend(str(tmp_path))
    modules = ("prompts", "utils_execute", "utils_general", "cruxeval_tasks", "cruxeval_tasks.base",
               "cruxeval_tasks.input_prediction", "cruxeval_tasks.output_prediction")
    yield
    for name in modules:
        sys.modules.pop(name, None)


@pytest.mark.slow  # a process per prediction, the never-ending ones for CRUXEval's 3 s
@pytest.mark.skipif(not (CRUXEVAL / "HEAD").exists(),
                    reason=f"no facebookresearch/cruxeval mirror at {CRUXEVAL} (set SC2_REFERENCE_MIRRORS)")
def test_cruxevals_own_code_gives_the_stored_verdicts(cruxeval, tmp_path):
    from cruxeval_tasks.input_prediction import InputPrediction
    from cruxeval_tasks.output_prediction import OutputPrediction
    from utils_general import evaluate_score

    tasks = fixture_tasks(tmp_path)
    records = [json.loads(line) for line in (DATA / "cruxeval.jsonl").read_text().splitlines()]
    theirs = {"cruxeval-i": InputPrediction(cot=False), "cruxeval-o": OutputPrediction(cot=False)}
    for name, reference in theirs.items():
        reference.dataset = {"test": records}
        assert [p.prompt for p in tasks[name].problems()] == [reference.get_prompt(r) for r in records]
    found = []
    for case in CASES:
        reference, index = theirs[case["task"]], [r["id"] for r in records].index(case["task_id"])
        prediction = reference.postprocess_generation(reference.get_prompt(records[index]) + case["generation"],
                                                      index)
        record = records[index]
        mode = "input" if case["task"] == "cruxeval-i" else "output"
        [passed] = evaluate_score(([prediction], (record["code"], record["input"], record["output"]), mode))
        found.append({**case, "prediction": prediction, "passed": passed})
    assert found == CASES


PUBLISHED = {"cruxeval-i": "input", "cruxeval-o": "output"}


@pytest.mark.slow  # some 500 programs, a few of them running for CRUXEval's 3 s
@pytest.mark.skipif(not (CRUXEVAL / "HEAD").exists(),
                    reason=f"no facebookresearch/cruxeval mirror at {CRUXEVAL} (set SC2_REFERENCE_MIRRORS)")
@pytest.mark.parametrize("name", PUBLISHED)
def test_our_verdicts_on_a_models_published_samples_are_cruxevals(name, tmp_path):
    """CRUXEval's samples/ folder: Code Llama 7B's predictions (10 per problem, temperature 0.2) and the
    verdicts its evaluator gave them, compared on the first 100 problems in its own form (a problem's
    not-run samples left out where another passed). The release file passes the shipped manifest."""
    mode = PUBLISHED[name]
    write_from_git(CRUXEVAL, COMMIT, {
        "cruxeval.jsonl": "data/cruxeval.jsonl",
        "generations.json": f"samples/model_generations/sample_codellama-7b_temp0.2_{mode}/generations.json",
        "scored.json": f"samples/evaluation_results/sample_scored_codellama-7b_temp0.2_{mode}.json"}, tmp_path)
    task = make_task(name, tmp_path)
    problems = task.problems()[:100]
    generations = json.loads((tmp_path / "generations.json").read_text())
    scored = json.loads((tmp_path / "scored.json").read_text())["raw_scored_generations"]
    jobs = [(p, g) for p in problems for g in dict.fromkeys(generations[p.task_id])]  # each prediction once
    sandbox = Sandbox(workers=os.cpu_count())
    outcomes = sandbox.run_many([sandbox.program("python", task.program(p, g)) for p, g in jobs])
    verdict = {(p.task_id, g): o.passed for (p, g), o in zip(jobs, outcomes)}
    for p in problems:
        run = [verdict[p.task_id, g] for g in generations[p.task_id] if task.not_run(p.data, g) is None]
        assert (run if True in run else [False] * len(generations[p.task_id])) == scored[p.task_id], p.task_id
    assert 0 < sum(verdict.values()) < len(verdict)
