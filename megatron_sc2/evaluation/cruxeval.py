"""CRUXEval (Gu et al. 2024): 800 short Python functions `f`, each with one input and its output.
`cruxeval-i` shows f and the output and asks for an input, `cruxeval-o` shows f and the input and asks
for the output; both score pass@k by execution (the paper's CRUXEval-I and CRUXEval-O).

bigcode-evaluation-harness (8fc5bae6) has no CRUXEval task, so prompts, stops and post-processing follow
CRUXEval's own `inference/` (facebookresearch/cruxeval 190faf16), direct prompts (`make_direct_input_prompt`,
`make_direct_output_prompt` of `prompts.py`, not chain of thought), generation stopped at `[/ANSWER]`.
The verdict is its `evaluation/utils_general.py` `evaluate_score` run through `utils_execute.py`:
`f`'s code, then `assert OUTPUT == PREDICTION` (for input prediction the prediction is the call
`f(...)`), executed for at most 3 s; a prediction without `f(` (input) or holding the call `f(INPUT)`
itself (output) is not run and fails.

File, from --data-dir, checked against manifest.json: cruxeval.jsonl (fields code, input, output, id),
CRUXEval's `data/cruxeval.jsonl`. A completion read from a file continues the prompt, as a generation does.
"""

from __future__ import annotations

from pathlib import Path

from megatron_sc2.data.special_tokens import EOD
from megatron_sc2.evaluation.tasks import MANIFEST, FileTask, Problem, Task, TaskData, stop_at

TIMED_EXEC = (Path(__file__).resolve().parent / "timed_exec.py").read_text(encoding="utf-8")
SECONDS = 3  # utils_general.py: check_correctness(code_to_execute, 3)
STOPS = ("[/ANSWER]", EOD)  # inference/tasks/*_prediction.py's stop word; vLLM stops at the end of text too

INPUT_PROMPT = """You will be given a function f and an output in the form f(??) == output. Find any input such \
that executing f on the input leads to the given output. There may be multiple answers, but you should only output \
one. In [ANSWER] and [/ANSWER] tags, complete the assertion with one such input that will produce the output when \
executing the function.

[PYTHON]
def f(my_list):
    count = 0
    for i in my_list:
        if len(i) % 2 == 0:
            count += 1
    return count
assert f(??) == 3
[/PYTHON]
[ANSWER]
assert f(["mq", "px", "zy"]) == 3
[/ANSWER]

[PYTHON]
def f(s1, s2):
    return s1 + s2
assert f(??) == "banana"
[/PYTHON]
[ANSWER]
assert f("ba", "nana") == "banana"
[/ANSWER]

[PYTHON]
{code}
assert f(??) == {output}
[/PYTHON]
[ANSWER]
"""

OUTPUT_PROMPT = """You are given a Python function and an assertion containing an input to the function. Complete \
the assertion with a literal (no unsimplified expressions, no function calls) containing the output when executing \
the provided code on the given input, even if the function is incorrect or incomplete. Do NOT output any extra \
information. Provide the full assertion with the correct output in [ANSWER] and [/ANSWER] tags, following the \
examples.

[PYTHON]
def f(n):
    return n
assert f(17) == ??
[/PYTHON]
[ANSWER]
assert f(17) == 17
[/ANSWER]

[PYTHON]
def f(s):
    return s + "a"
assert f("x9j") == ??
[/PYTHON]
[ANSWER]
assert f("x9j") == "x9ja"
[/ANSWER]

[PYTHON]
{code}
assert f({input}) == ??
[/PYTHON]
[ANSWER]
"""


class CRUXEval(FileTask):
    """Input prediction (the prediction is a call of f) or output prediction (it is the output's expression)."""

    file, fields = "cruxeval.jsonl", ("code", "input", "output", "id")
    min_timeout_s = SECONDS + 2  # timed_exec.py ends a program a second past SECONDS, as CRUXEval; one to start

    def __init__(self, data_dir: Path, output: bool, manifest: Path = MANIFEST):
        super().__init__(data_dir, manifest)
        self.output = output
        self.name = "cruxeval-o" if output else "cruxeval-i"

    @classmethod
    def make(cls, name: str, data: TaskData) -> Task:
        return cls(data.directory(name), output=name == "cruxeval-o", manifest=data.manifest)

    def problems(self) -> list[Problem]:
        # The oracle answers as the prompt's examples do; post-processing takes the call or the output from it.
        prompt = OUTPUT_PROMPT if self.output else INPUT_PROMPT
        return [Problem(r["id"], prompt.format(**r), STOPS, f"assert f({r['input']}) == {r['output']}\n", r)
                for r in self.records]

    def postprocess(self, problem: Problem, generation: str) -> str:
        """inference/tasks/*_prediction.py's postprocess_generation: for output prediction what stands between
        the first and the second `==`; for input prediction the left side of the first `==`, from `assert f`."""
        text = stop_at(generation, problem.stops)
        if self.output:
            return (text.split("==")[1] if "==" in text else text).strip()
        if "==" in text:
            text = text.split("==")[0].strip()
        if "assert f" in text:
            text = "f" + text.split("assert f")[1].strip()
        return text.strip()

    def program(self, problem: Problem, completion: str) -> str:
        """CRUXEval's check of the prediction `completion`, or a failing program where it runs none."""
        record = problem.data
        if (why := self.not_run(record, completion)) is not None:
            return f"raise AssertionError({'CRUXEval does not run this prediction: ' + why!r})\n"
        check = f"{record['code']}\nassert {record['output']} == {completion}"
        return f"{TIMED_EXEC}\nruns({check!r}, {SECONDS})\n"

    def not_run(self, record: dict, prediction: str) -> str | None:
        """Why CRUXEval fails `prediction` without running it (utils_general.py's skips), or None."""
        if self.output:
            return "it holds the call f(INPUT) itself" if f"f({record['input']})" in prediction else None
        return None if "f(" in prediction else "it holds no call 'f('"
