"""humaneval-plus and mbpp-plus judge each sample, on base and on plus tests, as EvalPlus's own
`check_correctness` does (evalplus 0.3.1 from the package index, run beside ours on the same samples).

tests/evaluation/data/HumanEvalPlus.jsonl.gz and MbppPlus.jsonl.gz are whole records of the published
files (HumanEval+ v0.1.10: HumanEval/2, 32, 55; MBPP+ v0.2.0: Mbpp/2, 124, 139, 455), chosen for
EvalPlus's float tolerance, its special oracles (find_zero, set equality), MBPP+'s tuple and complex
inputs, and inputs that only the plus tests reach.
"""

import gzip
import json
import shutil
import time
from pathlib import Path

import pytest
from evaluate_tool import DATA, vouched

from megatron_sc2.evaluation.evalplus import HumanEvalPlus, MbppPlus
from megatron_sc2.evaluation.sandbox import Limits, Sandbox
from megatron_sc2.evaluation.scoring import given_samples, read_completions, score
from megatron_sc2.evaluation.tasks import make_task

HUMANEVAL = {
    "HumanEval/2": ["    return number % 1.0\n",
                    "    return number - int(number) + 1e-9\n",  # within EvalPlus's atol
                    "    return round(number - int(number), 3)\n",  # the base tests only
                    "    print('noise')\n    return number % 1.0\n"],
    "HumanEval/32": [None,  # the canonical solution
                     "    return 0.0\n",
                     {"solution": None},  # EvalPlus's whole-program format
                     "return 0\n"],  # does not compile
    "HumanEval/55": [None,
                     "    return n if n < 2 else fib(n - 1) + fib(n - 2)\n",  # too slow for fib(86)
                     "    import sys\n    sys.exit(0)\n",
                     "    return n\n"],
}
MBPP = {
    "Mbpp/2": [None,
               "def similar_elements(a, b):\n  return tuple(sorted(set(a) & set(b), reverse=True))\n",  # set oracle
               "def similar_elements(a, b):\n  return tuple(set(a) | set(b))\n",
               {"solution": None}],
    "Mbpp/124": [None,
                 "import cmath\ndef angle_complex(a, b):\n  return cmath.phase(a + b) + 1e-9\n",
                 "def angle_complex(a, b):\n  return 0\n",
                 "def angle_complex(a, b):\n  return cmath.phase(a + b)\n"],  # cmath not imported
    "Mbpp/139": [None,
                 "def circle_circumference(r):\n  return 2 * 3.1415 * r\n",
                 "import math\ndef circle_circumference(r):\n  return 2 * math.pi * r if r < 1000 else 0.0\n",
                 "import math\ndef circle_circumference(r):\n  return round(2 * math.pi * r, 6)\n"],
    "Mbpp/455": [None,
                 "def check_monthnumb_number(m):\n  return m in (1, 3, 5, 7, 8, 10)\n",  # 12 is in plus only
                 "def check_monthnumb_number(m):\n  return True\n",
                 "def check_monthnumb_number(m):\n  while True:\n    pass\n"],
}


def records(file: str) -> dict[str, dict]:
    with gzip.open(DATA / file, "rt") as f:
        return {r["task_id"]: r for r in map(json.loads, f)}


def write_samples(path: Path, file: str, completions: dict[str, list]) -> Path:
    """EvalPlus's samples.jsonl: `completion` after the prompt, or a whole `solution`; None: the canonical one."""
    problems = records(file)
    with open(path, "w") as f:
        for task_id, samples in completions.items():
            canonical = problems[task_id]["canonical_solution"]
            for sample in samples:
                if isinstance(sample, dict):
                    sample = {"solution": problems[task_id]["prompt"] + canonical}
                else:
                    sample = {"completion": canonical if sample is None else sample}
                f.write(json.dumps({"task_id": task_id, **sample}) + "\n")
    return path


def evalplus_verdicts(dataset: str, file: str, samples: Path, cache: Path, monkeypatch) -> dict[str, list]:
    """(base, plus) per sample, from EvalPlus's own ground truth and check_correctness, as its evaluate()
    calls them (fast_check, the default limits)."""
    evalplus_evaluate = pytest.importorskip("evalplus.evaluate", reason="pip install --no-deps evalplus==0.3.1")
    from evalplus.data.mbpp import mbpp_deserialize_inputs
    from evalplus.data.utils import load_solutions, stream_jsonl
    from evalplus.eval._special_oracle import MBPP_OUTPUT_NOT_NONE_TASKS

    monkeypatch.setattr(evalplus_evaluate, "CACHE_DIR", str(cache))  # its ground-truth cache, not ~/.cache
    problems = {p["task_id"]: p for p in stream_jsonl(str(DATA / file))}
    if dataset == "mbpp":
        for p in problems.values():
            p["base_input"] = mbpp_deserialize_inputs(p["task_id"], p["base_input"])
            p["plus_input"] = mbpp_deserialize_inputs(p["task_id"], p["plus_input"])
    expected = evalplus_evaluate.get_groundtruth(problems, dataset + "-fixture",
                                                 MBPP_OUTPUT_NOT_NONE_TASKS if dataset == "mbpp" else [])
    found: dict[str, list] = {}
    for i, sample in enumerate(load_solutions(str(samples))):
        problem = problems[sample["task_id"]]
        solution = sample["solution"] if "solution" in sample else problem["prompt"] + sample["completion"]
        result = evalplus_evaluate.check_correctness(dataset, i, problem, solution, expected[problem["task_id"]],
                                                     fast_check=True)
        found.setdefault(problem["task_id"], []).append((result["base"][0] == "pass", result["plus"][0] == "pass"))
    return found


@pytest.mark.timeout(300)
@pytest.mark.parametrize("task_class, dataset, completions",
                         [(HumanEvalPlus, "humaneval", HUMANEVAL), (MbppPlus, "mbpp", MBPP)])
def test_verdicts_equal_evalplus_own_check_correctness(task_class, dataset, completions, tmp_path, monkeypatch):
    task = task_class(tmp_path, vouched(tmp_path, (task_class.file, task_class.file)))
    problems = task.problems()
    samples = write_samples(tmp_path / "samples.jsonl", task_class.file, completions)
    given = given_samples(task, problems, read_completions(samples), samples)
    metrics, ours = score(task, problems, given, Sandbox(Limits(timeout_s=30), workers=2), ks=(1,), progress=False)

    theirs = evalplus_verdicts(dataset, task_class.file, samples, tmp_path / "cache", monkeypatch)
    if dataset == "humaneval":
        # evalplus 0.3.1 fails every find_zero solution, the canonical one too (its oracle skips recording the
        # input as passed); fixed upstream after the release (evalplus commit 6eb1e19, #241), which we follow.
        assert theirs["HumanEval/32"] == [(False, False)] * 4
        theirs["HumanEval/32"] = [(True, True), (False, False), (True, True), (False, False)]
    mine: dict[str, list] = {}
    for record in ours:
        mine.setdefault(record["task_id"], []).append((record["base_passed"], record["plus_passed"]))
        assert record["passed"] == (record["base_passed"] and record["plus_passed"])
    assert mine == theirs
    flat = [v for vs in theirs.values() for v in vs]
    assert {(True, True), (True, False), (False, False)} <= set(flat)  # the mix covers each outcome
    assert metrics["pass@1"] == sum(b and p for b, p in flat) / len(flat)
    assert metrics["base_pass@1"] == sum(b for b, _ in flat) / len(flat)


def test_the_released_files_are_the_manifests_and_a_task_needs_them(tmp_path):
    """The shipped manifest names the published files, which --data-dir must hold (nothing is downloaded)."""
    manifest = json.loads((Path(__file__).parents[2] / "megatron_sc2/evaluation/manifest.json").read_text())
    assert {"HumanEvalPlus.jsonl.gz", "MbppPlus.jsonl.gz"} <= set(manifest)
    with pytest.raises(ValueError, match="--data-dir DIR"):
        make_task("humaneval-plus", None)
    with pytest.raises(ValueError, match="no MbppPlus.jsonl.gz"):
        make_task("mbpp-plus", tmp_path)
    shutil.copy(DATA / "MbppPlus.jsonl.gz", tmp_path)  # the fixture, not the release: refused
    with pytest.raises(ValueError, match="differs from the manifest"):
        make_task("mbpp-plus", tmp_path)


def test_prompts_follow_bigcode_harness(tmp_path):
    manifest = vouched(tmp_path, *((f, f) for f in ("HumanEvalPlus.jsonl.gz", "MbppPlus.jsonl.gz")))
    human = HumanEvalPlus(tmp_path, manifest).problems()[0]
    assert human.prompt == records("HumanEvalPlus.jsonl.gz")["HumanEval/2"]["prompt"].strip()
    assert "\ndef" in human.stops
    mbpp = MbppPlus(tmp_path, manifest).problems()[0]
    assert mbpp.prompt.startswith('"""\nWrite a function') and mbpp.prompt.endswith('"""\n')
    assert "\nassert" in mbpp.stops


def test_the_oracle_continues_a_prompt_stripped_at_both_ends(tmp_path):
    """HumanEval/83's prompt starts with a newline: the oracle is the stripped prompt's own end, then the
    canonical solution (not a quote of the docstring again)."""
    manifest = vouched(tmp_path, ("HumanEvalPlus-83.jsonl.gz", "HumanEvalPlus.jsonl.gz"))
    (problem,) = HumanEvalPlus(tmp_path, manifest).problems()
    record = problem.data
    assert record["prompt"].startswith("\n") and problem.prompt == record["prompt"].strip()
    assert problem.prompt + problem.reference == record["prompt"].lstrip() + record["canonical_solution"]


@pytest.mark.slow  # seconds of CPU in the sandbox
@pytest.mark.timeout(300)
def test_a_right_program_slower_than_the_timeout_still_passes_under_evalplus_limits(tmp_path):
    """HumanEval/83 (HumanEval+ v0.1.10, the whole record): its canonical solution's plus check runs for
    seconds (the canonical outputs, then the sample, each ~1 s of CPU here). A user's --timeout of 0.5 s
    cannot fail it: EvalPlus's own limits hold (evalplus 0.3.1's gt_time_limit_factor 4, min_time_limit
    1 s, a 60 s budget), and the sandbox gives a check their whole span."""
    manifest = vouched(tmp_path, ("HumanEvalPlus-83.jsonl.gz", "HumanEvalPlus.jsonl.gz"))
    task = HumanEvalPlus(tmp_path, manifest)
    problems = task.problems()
    samples = [[(p.reference, task.program(p, p.reference))] for p in problems]
    start = time.monotonic()
    metrics, (record,) = score(task, problems, samples, Sandbox(Limits(timeout_s=0.5), workers=2), ks=(1,),
                               progress=False)
    assert time.monotonic() - start > 0.5  # longer than --timeout
    assert record["base_passed"] and record["plus_passed"] and metrics["pass@1"] == 1.0
