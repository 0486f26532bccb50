"""CanItEdit (Cassano et al. 2023): 105 Python programs to edit, each with a descriptive and a lazy instruction
and hidden tests; `canitedit` asks for both edits of every program (210 problems) and reports each kind apart
(`descriptive_pass@k`, `lazy_pass@k`: CanItEdit's two figures) beside the whole.

File, from --data-dir, checked against manifest.json: `canitedit.parquet`, the test split of the Hugging Face
dataset nuprl/CanItEdit as published (Parquet): fields id, name, full_name, before, after, tests,
instruction_descriptive, instruction_lazy, taxonomy.

The prompt is CanItEdit's for StarCoder2 (nuprl/CanItEdit benchmark/generate_completions.py, model type
`starcoder2`, from its v2 evaluation code, commit 6e1a362): a one-shot GitHub issue conversation in
StarCoder2's issue tokens, the answer opened with a ```py block. StarCoder2's tokenizer has no
`<commit_before>`/`<commit_msg>`/`<commit_after>`, which CanItEdit's `starcoder` prompt needs. The edited
program is the generation's lines up to the block's closing ```, as CanItEdit's post-processing
(`python_markdown_codeblock_extract` of "```py\\n" + generation) takes them; generation stops at CanItEdit's
stops or there.

The verdict is CanItEdit's: its evaluator runs the edited program, a newline and the tests (MultiPL-E's
`prompt + completion + "\\n" + tests` with an empty prompt) with `python3`, and the sample passes when
that exits 0 within MultiPL-E's 15 s (min_timeout_s); here, when it runs to its end (sandbox.py). A
`solution` read from --completions is the edited program, as CanItEdit's own completion files hold it.
"""

from __future__ import annotations

from megatron_sc2.data.special_tokens import EOD
from megatron_sc2.evaluation.libraries import imported_modules
from megatron_sc2.evaluation.tasks import FileTask, Problem, stop_at

FILE = "canitedit.parquet"
KINDS = ("descriptive", "lazy")
STOPS = ("## Code After:", "## Instruction:", "## Code Before:")  # CanItEdit's DirectEditModel's
CODE_END = "\n```"  # the end of the answer's code block: cutting there leaves the extracted program as it is
PROMPT = """<issue_start>username_0: I have a program in Python that I'd like to change.

Here is the code for the program:
```py
def add(a, b):
    return a + b
```

The change I'd like to make is:
Add a "sub" function that subtracts two numbers. Also write docstrings for both functions and change a,b to x,y.

Please someone help me. Can you also provide the full code with the change?<issue_comment>username_1: Sure, \
no problem. I will be able to help. I am an expert in editing Python code.

Here is the full code with the change:
```py
def add(x, y):
    \"\"\"Adds two numbers.\"\"\"
    return x + y

    def sub(x, y):
    \"\"\"Subtracts two numbers.\"\"\"
    return x - y
```
Upvotes: 200<issue_comment>username_0: Thank you so much! I have another program in Python that I'd like to \
change.

Here is the code for the program:
```py
{before}
```

The change I'd like to make is:
{instruction}

Please someone help me. Can you also provide the full code with the change?
Upvotes: 100<issue_comment>username_1: Sure, no problem. I will be able to help. I am an expert in editing \
Python code.

Here is the full code with the change:
```py"""


def code_block(text: str) -> str:
    """The lines inside the first ``` block, each ending in a newline (python_markdown_codeblock_extract's)."""
    lines, inside = [], False
    for line in text.split("\n"):
        if line.startswith("```"):
            if inside:
                break
            inside = True
        elif inside:
            lines.append(line + "\n")
    return "".join(lines)


class CanItEdit(FileTask):
    name, file = "canitedit", FILE
    min_timeout_s = 15  # MultiPL-E's limit for a Python program, which CanItEdit's evaluator is
    fields = ("full_name", "before", "after", "tests", *(f"instruction_{kind}" for kind in KINDS))

    def problems(self) -> list[Problem]:
        return [Problem(f"{r['full_name']}/{kind}",
                        PROMPT.format(before=r["before"], instruction=r[f"instruction_{kind}"]),
                        (*STOPS, CODE_END, EOD), f"\n{r['after']}{CODE_END}", {**r, "kind": kind})
                for r in self.records for kind in KINDS]

    def postprocess(self, problem: Problem, generation: str) -> str:
        return code_block("```py\n" + stop_at(generation, problem.stops))

    def program(self, problem: Problem, edited: str) -> str:
        return f"{edited}\n{problem.data['tests']}"

    def modules(self, problem: Problem) -> tuple[str, ...]:
        return imported_modules(problem.data["after"], problem.data["tests"])

    def group(self, problem: Problem) -> str:
        return problem.data["kind"]
