"""Jupyter structured (StarCoder2 paper §5.4): a Python notebook as text-code-output triplets,
`<jupyter_start><jupyter_text>text<jupyter_code>code<jupyter_output>output<jupyter_text>...`.

The layout follows the reference pipeline, bigcode-project/bigcode-dataset `preprocessing/jupyter-structured/`
(commit bebec92, which the-stack-v2's `Jupyter_notebooks/README.md` points to): consecutive cells of one kind are
merged; a notebook starts at its first markdown group and ends at its last code group; the output of a code group is
the text of its last cell's first output (a stream), `<empty_output>` without one, cut at 1,000 characters.
"""

import itertools
import random
import re
from dataclasses import dataclass

from megatron_sc2.sources.notebooks import Unreadable, is_python, read_notebook

START, TEXT, CODE, OUTPUT, EMPTY_OUTPUT = (
    "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<empty_output>",
)  # fmt: skip


@dataclass(frozen=True)
class Options:
    max_output_chars: int = 1000  # the reference's cut; longer outputs end in "[...]"


def _markdown(text: str) -> str:
    """The reference's cleaning: HTML tags, line breaks and `#` removed."""
    return re.sub(r"\n+", "", re.sub(r"<.*?>", "", text)).replace("#", "")


def _first_output_text(cell) -> str | None:
    outputs = cell.get("outputs") or []
    if not (outputs and "text" in outputs[0]):
        return None
    if not isinstance(outputs[0]["text"], str):
        raise TypeError("an output's text is not text")
    return outputs[0]["text"]


def _groups(notebook) -> list[tuple[str, list]]:
    """(cell type, its consecutive non-empty cells), from the first group that is not code to the last that is
    not markdown; empty when the groups do not pair up as text then code."""
    cells = [cell for cell in notebook.cells if cell.get("source")]
    groups = [(kind, list(run)) for kind, run in itertools.groupby(cells, key=lambda cell: cell.cell_type)]
    if groups and groups[0][0] == "code":
        groups = groups[1:]
    if groups and groups[-1][0] == "markdown":
        groups = groups[:-1]
    return groups if len(groups) % 2 == 0 else []


def _triplets(content: str) -> list[tuple[str, str, str | None]]:
    """(text, code, output) of a Python notebook; raises Unreadable, or ValueError("not_python")."""
    notebook = read_notebook(content)
    if not is_python(notebook):
        raise ValueError("not_python")
    try:
        groups = _groups(notebook)
        return [
            (" ".join(_markdown(cell.source) for cell in texts), "\n".join(cell.source for cell in codes),
             _first_output_text(codes[-1]))
            for (_, texts), (_, codes) in zip(groups[::2], groups[1::2])
        ]  # fmt: skip
    except (AttributeError, KeyError, TypeError) as error:  # cells without a type, sources that are not text
        raise Unreadable(str(error)) from error


def removal_reason(record: dict, options: Options) -> str | None:
    try:
        triplets = _triplets(record["content"])
    except Unreadable:
        return "unreadable_notebook"
    except ValueError as error:
        return str(error)
    return None if triplets else "no_text_code_pairs"


def _output(output: str | None, options: Options) -> str:
    if output is None:
        return EMPTY_OUTPUT
    return output[: options.max_output_chars] + "[...]" if len(output) > options.max_output_chars else output


def render(record: dict, rng: random.Random, options: Options) -> str:
    """The notebook in `record["content"]` (JSON) as triplets; it has no random choices, `rng` is unused."""
    return START + "".join(
        f"{TEXT}{text.strip()}{CODE}{code.strip()}{OUTPUT}{_output(output, options).strip()}"
        for text, code, output in _triplets(record["content"])
    )
