"""Jupyter scripts (StarCoder2 paper §5.4): a notebook converted to a script of its language by Jupytext, under
`<jupyter_script>`.

As in the reference, bigcode-project/bigcode-dataset `preprocessing/jupyter_script_conversion.py` (commit bebec92):
the script's language is the extension in the notebook's `language_info`; a notebook Jupytext cannot write in that
extension becomes a Python script when its kernel is Python. The reference gives the remaining ones to Guesslang;
here they are dropped (`unknown_language`).
"""

import functools
import json
import random
from dataclasses import dataclass

import jupytext
import nbformat
from jupytext.formats import JupytextFormatError

SCRIPT = "<jupyter_script>"


@dataclass(frozen=True)
class Options:
    """Jupyter scripts have no choices to make."""


def _notebook(content: str) -> nbformat.NotebookNode:
    notebook = nbformat.from_dict(json.loads(content))
    for cell in notebook.cells:
        cell.source = "".join(cell.source)
    return notebook


@functools.lru_cache(maxsize=8)  # the filter, then the renderer, convert the same notebook
def _script(content: str) -> str:
    """The script Jupytext writes (what the reference's `jupytext.write` to a file holds); raises ValueError
    naming the reason when there is none."""
    try:
        notebook = _notebook(content)
        extension = notebook.metadata.language_info.file_extension
    except (ValueError, KeyError, TypeError, AttributeError):  # also what nbformat and json raise on bad input
        raise ValueError("unreadable_notebook") from None
    try:
        try:
            script = jupytext.writes(notebook, fmt=extension)
        except JupytextFormatError:  # not an extension Jupytext writes
            if "py" not in str(notebook.metadata.get("kernelspec")):
                raise ValueError("unknown_language") from None
            script = jupytext.writes(notebook, fmt=".py")
    except (AttributeError, KeyError, TypeError):  # cells without a type, sources that are not text
        raise ValueError("unreadable_notebook") from None
    return script if script.endswith("\n") else script + "\n"


def removal_reason(record: dict, options: Options) -> str | None:
    try:
        _script(record["content"])
    except ValueError as error:
        return str(error)
    return None


def render(record: dict, rng: random.Random, options: Options) -> str:
    """The notebook in `record["content"]` (JSON) as a script; no random choices, `rng` is unused."""
    return SCRIPT + _script(record["content"])
