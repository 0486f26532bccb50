"""humanevalfix-LANG prompts, stops, cuts and assembles programs as bigcode-evaluation-harness's
`humanevalfixtests-LANG --prompt issue` does, and judges each program as its metric, code_eval_octopack, does.

data/humanevalpack_records.jsonl: problems 0 and 2 of each language, verbatim lines of the published files
(bigcode-project/octopack e17a8f64, evaluation/create/humaneval-x/data/LANG/data/humanevalpack.jsonl).
data/humanevalfix_reference.json: per problem the harness's prompt (its sha256) and stop words, and per
generation (what follows the prompt: the canonical fix, the same followed by more code, the bug, code that
does not compile, and for problem 2 code that never ends) the harness's fixed code, its program's sha256 and
the metric's result, made by humanevalfix_reference.reference_cases (harness 8fc5bae6, the metric from
yh1105/open-freeform-code-qa-suite 83b03a3). Rust's programs are not run there (null): cargo's crates were not
at hand. test_reference_agrees remakes the file's contents when the mirrors are (SC2_REFERENCE_MIRRORS).
"""

import dataclasses
import json
import os
import subprocess
from pathlib import Path

import pytest
from evaluation import humanevalfix_reference as reference

from megatron_sc2.evaluation.humanevalfix import RUNNERS, HumanEvalFix
from megatron_sc2.evaluation.languages import Language
from megatron_sc2.evaluation.sandbox import Limits, Sandbox, toolchain_missing
from megatron_sc2.evaluation.scoring import given_samples, score
from megatron_sc2.evaluation.tasks import make_task, sha256

DATA = Path(__file__).parent / "data"
PREFIXES = {"Python": "python", "JavaScript": "js", "Java": "java", "Go": "go", "CPP": "cpp", "Rust": "rust"}
LINES: dict[str, list[str]] = {}
for _line in (DATA / "humanevalpack_records.jsonl").read_text().splitlines(keepends=True):
    LINES.setdefault(PREFIXES[json.loads(_line)["task_id"].split("/")[0]], []).append(_line)
EXPECTED = json.loads((DATA / "humanevalfix_reference.json").read_text())
SLOW = {"java", "go", "cpp", "rust"}  # compilers take seconds per program on two cores
NEVER_ENDING = ("python", "js", "java", "go")  # C++'s waits 60 s in the same `timeout` step as Java's 10 s


def task_of(folder: Path, language: str, lines: list[str] | None = None) -> HumanEvalFix:
    """The task on a --data-dir holding the fixture's records of `language` (or `lines`), in a manifest of its own."""
    data = folder / f"humanevalpack-{language}.jsonl"
    data.write_text("".join(LINES[language] if lines is None else lines))
    manifest = folder / f"manifest-{language}.json"
    manifest.write_text(json.dumps({data.name: {"sha256": sha256(data), "source": "test"}}))
    return HumanEvalFix(folder, language, manifest)


def verdict(language: str, passed: bool, error: str | None) -> str:
    """Our outcome in the metric's words; it names compile errors, but not Go's (`go test` builds and runs)."""
    if passed:
        return "passed"
    if error == "compile error" and language != "go":
        return "failed: compilation error"
    return "timed out" if error in ("timeout", "compile timeout") else "failed"


@pytest.fixture(scope="module")
def tasks(tmp_path_factory):
    folder = tmp_path_factory.mktemp("humanevalpack")
    return {language: task_of(folder, language) for language in LINES}


def test_prompts_stops_fixes_and_programs_are_the_harnesss(tasks):
    for task in tasks.values():
        for problem in task.problems():
            expected = EXPECTED[problem.task_id]
            assert reference.sha256(problem.prompt) == expected["prompt_sha256"], problem.task_id
            assert list(problem.stops) == expected["stops"]
            for case, harness in expected["cases"].items():
                fixed, program = task.given(problem, harness["generation"])
                assert fixed == harness["fixed"], (problem.task_id, case)
                assert reference.sha256(program) == harness["program_sha256"], (problem.task_id, case)


def test_the_harnesss_saved_generations_are_its_fixed_code(tasks):
    task = tasks["python"]
    problems = task.problems()
    saved = [[EXPECTED[p.task_id]["cases"][case]["fixed"] for case in ("right", "wrong")] for p in problems]
    samples = given_samples(task, problems, saved, Path("generations.json"))
    assert [[c for c, _ in drawn] for drawn in samples] == saved
    assert [reference.sha256(program) for _, program in samples[1]] == [
        EXPECTED["Python/2"]["cases"][case]["program_sha256"] for case in ("right", "wrong")]


def cases():
    """(language, problem, case) of the fixture's ending programs, marked slow or skipped (saying why) as needed."""
    params = []
    for language in LINES:
        why = toolchain_missing(RUNNERS.get(language, "python")) or (
            "the metric's verdicts were not recorded (cargo's crates were not at hand)" if language == "rust" else None)
        marks = [pytest.mark.skipif(why is not None, reason=str(why))] + ([pytest.mark.slow] if language in SLOW else [])
        params += [pytest.param(language, task_id, case, marks=marks)
                   for task_id, problem in EXPECTED.items() if PREFIXES[task_id.split("/")[0]] == language
                   for case in problem["cases"] if case != "timeout"]
    return params


@pytest.fixture(scope="module")
def outcomes(tasks):
    """Per language, every program but the never-ending ones, run together in one sandbox when first asked for.
    These programs all end, so their verdicts do not depend on the metric's wall-clock limits (javac's 5 s,
    which javac overruns on two loaded cores): they run with a minute for each step. What the limits decide
    is test_a_program_that_never_ends_is_timed_out_as_by_the_metric's."""
    sandbox, done = Sandbox(Limits(), workers=os.cpu_count()), {}

    def run(language):
        if language not in done:
            task = tasks[language]
            runner = task.language if language == "python" else dataclasses.replace(
                task.language, run_timeout_s=max(task.language.run_timeout_s, 60),
                compile_timeout_s=max(task.language.compile_timeout_s, 60))
            jobs = [(p.task_id, case, task.given(p, harness["generation"])[1]) for p in task.problems()
                    for case, harness in EXPECTED[p.task_id]["cases"].items() if case != "timeout"]
            results = sandbox.run_many([sandbox.program(runner, program) for *_, program in jobs])
            done[language] = {(task_id, case): outcome for (task_id, case, _), outcome in zip(jobs, results)}
        return done[language]
    return run


@pytest.mark.parametrize(("language", "task_id", "case"), cases())
def test_verdicts_equal_code_eval_octopacks(outcomes, language, task_id, case):
    outcome = outcomes(language)[task_id, case]
    assert verdict(language, outcome.passed, outcome.error) == EXPECTED[task_id]["cases"][case]["result"], outcome.output


@pytest.mark.slow  # each waits out the metric's limit for its language: 10 s, Go's 20 s
def test_a_program_that_never_ends_is_timed_out_as_by_the_metric(tasks):
    languages = [language for language in NEVER_ENDING if toolchain_missing(tasks[language].language) is None]
    assert languages, "no toolchain of the never-ending programs' languages is installed"
    problems = {language: tasks[language].problems()[1] for language in languages}  # problem 2
    programs = [tasks[language].given(problem, EXPECTED[problem.task_id]["cases"]["timeout"]["generation"])[1]
                for language, problem in problems.items()]
    sandbox = Sandbox(Limits(), workers=os.cpu_count())
    results = sandbox.run_many([sandbox.program(tasks[language].language, program)
                                for language, program in zip(languages, programs)])
    assert [verdict(language, o.passed, o.error) for language, o in zip(languages, results)] == [
        EXPECTED[problem.task_id]["cases"]["timeout"]["result"] for problem in problems.values()] == [
        "timed out"] * len(languages)


def test_a_right_fix_scores_and_the_python_toolchain_is_there(tasks):
    task = tasks["python"]
    problems = task.problems()
    sandbox = Sandbox(Limits(), workers=2)
    assert task.missing(sandbox) is None  # numpy, which every program imports: apt-get install python3-numpy
    samples = [[task.given(p, p.reference)] for p in problems]
    metrics, records = score(task, problems, samples, sandbox, ks=(1,), progress=False)
    assert metrics["pass@1"] == 1.0 and [r["completion"] for r in records] == [
        EXPECTED[p.task_id]["cases"]["right"]["fixed"].rstrip() for p in problems]  # the oracle has no ``` after


def test_a_missing_toolchain_file_or_field_and_an_unknown_language_are_one_line(tmp_path):
    absent = dataclasses.replace(RUNNERS["cpp"], needs=("/nonexistent/boost/any.hpp",))
    assert toolchain_missing(absent) == ("toolchain missing: /nonexistent/boost/any.hpp (apt-get install g++ "
                                         "libboost-dev libssl-dev)")
    with pytest.raises(ValueError, match="^--tasks humanevalfix-ruby: HumanEvalFix's languages are python, js, java, "
                                         "go, cpp, rust$"):
        make_task("humanevalfix-ruby", tmp_path)
    with pytest.raises(ValueError, match=f"^--data-dir {tmp_path}: no humanevalpack-go.jsonl "):
        make_task("humanevalfix-go", tmp_path)
    record = json.loads(LINES["go"][0])
    del record["test_setup"]
    with pytest.raises(ValueError, match="humanevalpack-go.jsonl: record 1 has no test_setup: each record needs "):
        task_of(tmp_path, "go", [json.dumps(record) + "\n"])


def test_the_drivers_report_reaches_descriptor_3_too(tmp_path):
    """The sandbox hands the driver the report descriptor it has free: in a process whose first Sandbox has
    released its lock files that can be 3, the very number the driver moves it to."""
    (tmp_path / "run.sh").write_text(Language("true", "true", "main", ("true",), 5, "coreutils").driver())
    subprocess.run(["bash", "-c", "exec 3>steps; bash run.sh 3"], cwd=tmp_path, check=True)
    assert (tmp_path / "steps").read_text() == "run 0\n"


@pytest.mark.slow  # runs the harness and its metric on every program again, never-ending ones included
@pytest.mark.skipif(not reference.available(), reason=f"no mirrors of bigcode-evaluation-harness and "
                    f"yh1105/open-freeform-code-qa-suite under {reference.MIRRORS} (set SC2_REFERENCE_MIRRORS)")
def test_reference_agrees(tmp_path):
    records = {language: [json.loads(line) for line in lines] for language, lines in LINES.items()}
    generations = {task_id: {case: c["generation"] for case, c in problem["cases"].items()}
                   for task_id, problem in EXPECTED.items()}
    executed = tuple(language for language in LINES if language != "rust"
                     and toolchain_missing(RUNNERS.get(language, "python")) is None)
    got = reference.reference_cases(tmp_path, records, generations, executed)
    assert only_results_of(executed, got) == only_results_of(executed, EXPECTED)


def only_results_of(languages: tuple[str, ...], problems: dict) -> dict:
    """The fixture's contents, with the metric's results of the other languages left out."""
    return {task_id: {**problem, "cases": {case: {**c, "result": c["result"] if PREFIXES[task_id.split("/")[0]] in
                                                  languages else None} for case, c in problem["cases"].items()}}
            for task_id, problem in problems.items()}
