"""GSM8K (Cobbe et al. 2021) with PAL (Gao et al. 2022): the model answers a grade-school math word problem
by writing a Python `solution()`, and the number that program prints is checked against the reference.

As bigcode-evaluation-harness's `pal-gsm8k-greedy` (`bigcode_eval/tasks/gsm.py` and
`custom_metrics/pal_metric/`, 8fc5bae6), which the StarCoder2 paper ran:
- the prompt: the harness's 8 few-shot examples (gsm8k_few_shot_prompts.json beside this module is its
  `few_shot_examples/gsm8k_few_shot_prompts.json`), each as `Q: {question}\\n\\n# solution in Python:\\n\\n\\n`
  + `def solution():\\n    \"\"\"{question}\"\"\"\\n{solution}\\n\\n\\n\\n\\n\\n`, then the problem's
  `Q: {question}\\n\\n# solution in Python:\\n\\n\\n`; generation stops at `\\n\\n\\n` (and at the end of text);
- post-processing: the text after the prompt's last `# solution in Python:`, stripped, cut at its first
  `Q:`, then `\\nprint(solution())`;
- the verdict: that program runs for at most 3 s; its answer is the last line it wrote (stdout and stderr
  together), right when `abs(float(answer) - float(reference)) < 1e-3`; the reference is the text after
  the record's last `#### `, stripped, commas removed (float() of it is float() of the harness's
  `parse_target`). Greedy pass@1 is the harness's `accuracy`.

File, from --data-dir, checked against manifest.json: gsm8k_test.jsonl (fields question, answer), the test
split as OpenAI releases it, `grade_school_math/data/test.jsonl`. A completion read from a file continues
the prompt, as a generation does.
"""

from __future__ import annotations

import json
from pathlib import Path

from megatron_sc2.data.special_tokens import EOD
from megatron_sc2.evaluation.tasks import FileTask, Problem, stop_at

HERE = Path(__file__).resolve().parent
TIMED_EXEC = (HERE / "timed_exec.py").read_text(encoding="utf-8")
NUM_SHOTS, MARKER = 8, "# solution in Python:"
STOPS = ("\n\n\n", EOD)  # gsm.py's stop word; the harness adds the tokenizer's end of text
SECONDS, TOLERANCE = 3.0, 1e-3  # pal_code_exec.compute's timeout and comparison


def few_shots() -> str:
    """gsm.py's few_shot_prompt before the question: the harness's examples, solved."""
    examples = json.loads((HERE / "gsm8k_few_shot_prompts.json").read_text(encoding="utf-8"))
    return "".join(f'Q: {q}\n\n{MARKER}\n\n\ndef solution():\n    """{q}"""\n{s}\n\n\n\n\n\n'
                   for q, s in zip(examples["questions"][:NUM_SHOTS], examples["solutions"][:NUM_SHOTS]))


def reference_number(answer: str) -> str:
    """gsm.py's get_reference: the text after the last `#### `, stripped, commas removed (parse_target's number,
    as text)."""
    return answer.split("#### ")[-1].strip().replace(",", "")


class GSM8KPAL(FileTask):
    name, file, fields = "gsm8k-pal", "gsm8k_test.jsonl", ("question", "answer")
    min_timeout_s = SECONDS + 2  # timed_exec.py ends a program a second past SECONDS, as the harness; one to start

    def problems(self) -> list[Problem]:
        problems, shots = [], few_shots()
        for index, record in enumerate(self.records):
            number = reference_number(record["answer"])
            # the oracle knows only the number: a solution() that returns it
            problems.append(Problem(str(index), f"{shots}Q: {record['question']}\n\n{MARKER}\n\n\n", STOPS,
                                    f"def solution():\n    return {number}\n", {**record, "reference": number}))
        return problems

    def postprocess(self, problem: Problem, generation: str) -> str:
        """gsm.py's postprocess_generation: the program the harness runs."""
        output = (problem.prompt + stop_at(generation, problem.stops)).split(MARKER, NUM_SHOTS + 1)[-1].strip()
        if "Q:" in output:
            output = output.split("Q:")[0]
        return output + "\nprint(solution())"

    def program(self, problem: Problem, completion: str) -> str:
        """Runs the harness's program `completion`; ends normally when its answer is the reference's number."""
        reference = problem.data["reference"]
        return (f"{TIMED_EXEC}\nanswer = last_line({completion!r}, {SECONDS})\n"
                f"assert abs(float(answer) - float({reference!r})) < {TOLERANCE}, f'answer {{answer!r}}, not "
                f"{reference}'\n")
