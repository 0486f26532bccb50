"""Our sandbox judges MultiPL-E programs as MultiPL-E's own evaluators do, sample for sample.

data/multiple_humaneval_0.jsonl holds HumanEval_0 in MultiPL-E's format (name, prompt, tests,
stop_tokens; the compiled languages' records from nuprl/MultiPL-E prompts/humaneval-LANG-reworded.jsonl,
their doc comments prefixed as in the released dataset; Racket's from humaneval-rkt-reworded.jsonl at
3fe78f17, Scala's from humaneval-scala-reworded.jsonl at f9b4ccd0, prefixed likewise) with a right, a wrong,
a non-compiling and a never-ending completion per language. data/multiple_verdicts.json holds the status
MultiPL-E's evaluators gave each program (bigcode-evaluation-harness 8fc5bae6, `bigcode_eval/tasks/custom_metrics/
multiple_metrics`, run through `containerized_eval.eval_string_script`). The tests here compare our
verdicts with that file wherever the toolchain is installed; test_reference_evaluators_agree reruns
MultiPL-E's evaluators themselves when a checkout of the harness is at hand (SC2_BIGCODE_HARNESS).
"""

import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from megatron_sc2.evaluation.languages import LANGUAGES
from megatron_sc2.evaluation.sandbox import Limits, Sandbox, toolchain_missing

DATA = Path(__file__).parent / "data"
RECORDS = {r["language"]: r for r in map(json.loads, (DATA / "multiple_humaneval_0.jsonl").read_text().splitlines())}
EXPECTED = json.loads((DATA / "multiple_verdicts.json").read_text())
QUICK = ("right", "wrong", "compile_error")
HARNESS = Path(os.environ.get("SC2_BIGCODE_HARNESS", "/nonexistent"))  # a bigcode-evaluation-harness checkout
HARNESS_COMMIT = "8fc5bae6"
# MultiPL-E's evaluator keys where they differ from the task's language
REFERENCE_KEYS = {"go": "go_test.go"}


def program(language: str, case: str) -> str:
    """As bigcode-evaluation-harness builds it: prompt + completion, a newline, the tests."""
    record = RECORDS[language]
    return record["prompt"] + record["completions"][case] + "\n" + record["tests"]


def category(passed: bool, error: str | None) -> str:
    if passed:
        return "OK"
    if error in ("timeout", "compile timeout"):
        return "Timeout"
    return "SyntaxError" if error in ("compile error",) else "Exception"


def reference_category(language: str, status: str) -> str:
    """MultiPL-E's status, with SyntaxError kept only where a compiler decides it (elsewhere MultiPL-E
    guesses it from the error text, a label without bearing on pass@k)."""
    compiled = bool(LANGUAGES[language].compile) or language == "go"
    return "SyntaxError" if status == "SyntaxError" and compiled else status if status in ("OK", "Timeout") \
        else "Exception"


SLOW_COMPILERS = {"java", "rs", "ts", "cs", "go", "scala"}  # seconds per program on two cores: in the slow lane


def installed(cases):
    return [pytest.param(language, case, marks=[pytest.mark.skipif(
        toolchain_missing(language) is not None, reason=str(toolchain_missing(language))),
        *([pytest.mark.slow] if language in SLOW_COMPILERS else [])])
        for language in RECORDS for case in cases]


@pytest.fixture(scope="module")
def sandbox():
    return Sandbox(Limits(), workers=os.cpu_count())  # MultiPL-E's limits are wall-clock: no more than the cores


@pytest.fixture(scope="module")
def quick_outcomes(sandbox):
    """Per language, its right, wrong and non-compiling programs' outcomes, run together when first asked for."""
    done = {}

    def outcomes(language):
        if language not in done:
            done[language] = dict(zip(QUICK, sandbox.run_many([sandbox.program(language, program(language, case))
                                                                for case in QUICK])))
        return done[language]
    return outcomes


@pytest.mark.parametrize(("language", "case"), installed(QUICK))
def test_our_verdict_is_multiples(quick_outcomes, language, case):
    outcome = quick_outcomes(language)[case]
    expected = EXPECTED[language][case]
    assert outcome.passed == (expected == "OK"), outcome.output
    assert category(outcome.passed, outcome.error) == reference_category(language, expected), outcome.output


# One language of each kind of verdict (exit status; go test's stdout; an interpreter; PHP, whose evaluator has no
# timeout branch): every language's timeout is the same `timeout` step of its script, and each waits out its limit.
NEVER_ENDING = ("cpp", "go", "js", "php")


@pytest.mark.slow  # each waits out MultiPL-E's limit for its language (up to 30 s for Go), two at a time
def test_a_program_that_never_ends_is_a_timeout_as_in_multiple(sandbox):
    languages = [language for language in NEVER_ENDING if language in RECORDS and toolchain_missing(language) is None]
    assert languages, "no toolchain of the never-ending programs' languages is installed"
    outcomes = sandbox.run_many([sandbox.program(language, program(language, "timeout")) for language in languages])
    assert not any(o.passed for o in outcomes)
    got = {language: category(o.passed, o.error) for language, o in zip(languages, outcomes)}
    # eval_php.py has no timeout branch: MultiPL-E calls PHP's timeouts Exception, we call them timeout
    expected = {language: "Timeout" if language == "php" else reference_category(language, EXPECTED[language][
        "timeout"]) for language in languages}
    assert got == expected and EXPECTED.get("php", {}).get("timeout") in (None, "Exception")


def test_every_language_of_the_paper_has_a_runner_and_a_missing_toolchain_is_named():
    assert set(LANGUAGES) == {"cpp", "cs", "d", "go", "java", "jl", "js", "lua", "php", "pl", "r", "rb", "rkt",
                              "rs", "scala", "sh", "swift", "ts"}
    for language in LANGUAGES.values():
        why = language.missing()
        if why is not None:
            assert why.startswith("toolchain missing: ") and "apt-get install" in why


# ---- MultiPL-E's own evaluators -----------------------------------------------------------------

def _reference_package(folder: Path) -> Path:
    """MultiPL-E's evaluators from the harness, as an importable package. Debian has no `rdmd` nor `csc`:
    two shims run LDC's and Mono's instead, as languages.py does; the javatuples jar is Debian's."""
    package = folder / "multiple_metrics"
    package.mkdir()
    where = "bigcode_eval/tasks/custom_metrics/multiple_metrics"
    names = subprocess.run(["git", "-C", str(HARNESS), "ls-tree", "-r", "--name-only", "HEAD", where],
                           capture_output=True, text=True, check=True).stdout.split()
    for name in names:
        text = subprocess.run(["git", "-C", str(HARNESS), "show", f"HEAD:{name}"], capture_output=True, text=True,
                              check=True).stdout
        target = package / name.removeprefix(where + "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text.replace("/usr/multiple/javatuples-1.2.jar", "/usr/share/java/javatuples.jar"))
    shims = folder / "bin"
    shims.mkdir()
    (shims / "rdmd").write_text('#!/bin/sh\nexec ldmd2 "$1" -run "$2"\n')
    (shims / "csc").write_text('#!/bin/sh\nexec mcs "$@"\n')
    for shim in shims.iterdir():
        shim.chmod(0o755)
    return shims


@pytest.mark.slow  # compiles and runs every program twice more, without a sandbox
@pytest.mark.skipif(not (HARNESS / "HEAD").exists() and not (HARNESS / ".git").exists(),
                    reason=f"no bigcode-evaluation-harness checkout at {HARNESS} (set SC2_BIGCODE_HARNESS)")
def test_reference_evaluators_agree(tmp_path, monkeypatch):
    """MultiPL-E's evaluators give the statuses stored in multiple_verdicts.json."""
    shims = _reference_package(tmp_path)
    monkeypatch.setenv("PATH", f"{shims}:/usr/bin:/bin")
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("multiple_metrics", None)
    from multiple_metrics.containerized_eval import eval_string_script

    jobs = [(language, case) for language in RECORDS if toolchain_missing(language) is None
            for case in RECORDS[language]["completions"]]
    with ThreadPoolExecutor(os.cpu_count()) as pool:  # its limits are wall-clock
        statuses = list(pool.map(lambda job: eval_string_script(REFERENCE_KEYS.get(job[0], job[0]),
                                                                program(*job))["status"], jobs))
    got = {job: status for job, status in zip(jobs, statuses)}
    assert got == {job: EXPECTED[job[0]][job[1]] for job in jobs}
    assert shutil.which("ldmd2") is None or got.get(("d", "right")) == "OK"
