"""Jupyter structured and Jupyter scripts: the reference's text on the planted notebooks, the filters' reasons.

The reference is bigcode-project/bigcode-dataset commit bebec92 (`preprocessing/jupyter-structured/`,
`preprocessing/jupyter_script_conversion.py`), which bigcode-project/the-stack-v2 commit 9172041 points to.
"""

import json
import random

import jupytext
import pytest
from sources import notebook_reference as reference
from sources.notebook_planted import MALFORMED_NOTEBOOKS, NOTEBOOKS, filter_verdicts

from megatron_sc2.sources import jupyter_scripts, jupyter_structured

EXPECTED = json.loads(reference.OUTPUTS.read_text())
MODULES = {"jupyter-structured": jupyter_structured, "jupyter-scripts": jupyter_scripts}
# The reference keeps a notebook when "py" is anywhere in its metadata JSON, which `pygments_lexer` always is:
# its "Python notebooks" include R ones. The paper says Python only; so does this filter.
DIVERGES = {("jupyter-structured", "r"): "not_python"}


def ours(source: str, content: str) -> str | None:
    module = MODULES[source]
    if module.removal_reason({"content": content}, module.Options()) is not None:
        return None
    return module.render({"content": content}, random.Random(0), module.Options())


def expected_text(source: str, name: str) -> str | None:
    """The reference's text; a script's header names the Jupytext version that wrote it."""
    text = EXPECTED[source][name]
    if text is not None and source == "jupyter-scripts":
        text = text.replace("jupytext_version: 1.19.7", f"jupytext_version: {jupytext.__version__}")
    return text


@pytest.mark.parametrize("source", MODULES)
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_text_equals_the_reference(source, name):
    if (source, name) in DIVERGES:
        module = MODULES[source]
        assert EXPECTED[source][name] is not None
        assert module.removal_reason({"content": NOTEBOOKS[name]}, module.Options()) == DIVERGES[source, name]
        return
    assert ours(source, NOTEBOOKS[name]) == expected_text(source, name)


def test_structured_layout():
    text = ours("jupyter-structured", NOTEBOOKS["python"])
    # the leading code cell and the trailing markdown go; markdown cells merge with a space, code cells with a line
    assert text == (
        "<jupyter_start><jupyter_text>Load the dataWe read the csv.  Second cell"
        "<jupyter_code>import pandas as pd\ndf = pd.read_csv('train.csv')\n\nprint(df.shape)"
        "<jupyter_output>(891, 12)<jupyter_text>Plot it<jupyter_code>df.plot()<jupyter_output><empty_output>"
    )
    long_output = ours("jupyter-structured", NOTEBOOKS["long_output"])
    assert long_output.endswith("[...]") and len(long_output.split("<jupyter_output>")[1]) == 1000 + len("[...]")


@pytest.mark.parametrize("module, expected", [
    (jupyter_structured, {"python": "kept", "long_output": "kept", "empty_outputs": "kept", "r": "not_python",
                          "only_code": "no_text_code_pairs", "raw_between": "no_text_code_pairs",
                          "python_unknown_extension": "kept", "unknown_language": "not_python",
                          "no_language_info": "kept", "not_json": "unreadable_notebook"}),
    (jupyter_scripts, {"python": "kept", "long_output": "kept", "empty_outputs": "kept", "r": "kept",
                       "only_code": "kept", "raw_between": "kept", "python_unknown_extension": "kept",
                       "unknown_language": "unknown_language", "no_language_info": "unreadable_notebook",
                       "not_json": "unreadable_notebook"}),
])  # fmt: skip
def test_filters_name_their_reasons(module, expected):
    source = "jupyter-structured" if module is jupyter_structured else "jupyter-scripts"
    verdicts, counters = filter_verdicts(source, {name: {"content": c} for name, c in NOTEBOOKS.items()})
    assert verdicts == expected
    reasons = [v for v in expected.values() if v != "kept"]
    assert counters["dropped"] == len(reasons)
    assert {r: counters[f"dropped_{r}"] for r in reasons} == {r: reasons.count(r) for r in reasons}


def test_removals_reach_stats_json(tmp_path):
    """Through the datatrove pipeline render_sources.py runs, the removals are counted by reason in stats.json."""
    from megatron_sc2.sources.cli import main

    (tmp_path / "in").mkdir()
    with (tmp_path / "in" / "notebooks.jsonl").open("w") as out:
        for name, content in NOTEBOOKS.items():
            out.write(json.dumps({"id": name, "content": content}) + "\n")
    assert main(["--source", "jupyter-structured", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"),
                 "--workers", "1"]) == 0
    summary = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert summary["removed"] == {"not_python": 2, "no_text_code_pairs": 2, "unreadable_notebook": 1}
    assert summary["documents_out"] == 5


@pytest.mark.parametrize("module", MODULES.values(), ids=MODULES)
@pytest.mark.parametrize("name", MALFORMED_NOTEBOOKS)
def test_malformed_notebooks_are_counted_not_fatal(module, name):
    record = {"content": MALFORMED_NOTEBOOKS[name]}
    reason = module.removal_reason(record, module.Options())
    if reason is None:  # what the filter keeps renders
        assert module.render(record, random.Random(0), module.Options()).startswith("<jupyter_")
    else:
        assert reason in ("unreadable_notebook", "no_text_code_pairs")
