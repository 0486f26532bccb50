"""Raw records planted for the notebook and IR sources: one per case the renderers and filters tell apart.

Notebooks are built here (nbformat 4 JSON) rather than stored, so each case reads as what it tests.
"""

import json

PYTHON = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python", "file_extension": ".py", "pygments_lexer": "ipython3", "version": "3.10.4"},
}
R = {
    "kernelspec": {"display_name": "R", "language": "R", "name": "ir"},
    "language_info": {"name": "R", "file_extension": ".r", "pygments_lexer": "r", "version": "4.1.0"},
}


def lines(text: str) -> list[str]:
    """A cell source as Jupyter stores it: lines that keep their newline."""
    return text.splitlines(keepends=True)


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": lines(text)}


def code(text: str, *outputs: dict) -> dict:
    return {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": list(outputs),
            "source": lines(text)}


def raw(text: str) -> dict:
    return {"cell_type": "raw", "metadata": {}, "source": lines(text)}


def stream(text: str) -> dict:
    return {"name": "stdout", "output_type": "stream", "text": lines(text)}


def result(plain: str) -> dict:
    return {"data": {"text/plain": lines(plain)}, "execution_count": 1, "metadata": {}, "output_type": "execute_result"}


def notebook(cells: list[dict], metadata: dict | None = None) -> str:
    return json.dumps({"cells": cells, "metadata": PYTHON if metadata is None else metadata,
                       "nbformat": 4, "nbformat_minor": 5})


NOTEBOOKS = {
    # a leading code group (dropped), a markdown pair merged, a code pair merged, a trailing markdown (dropped)
    "python": notebook([
        code("import os\n"),
        markdown("# Load the data\nWe read <b>the</b> csv.\n\n"),
        markdown("## Second cell\n"),
        code("import pandas as pd\ndf = pd.read_csv('train.csv')\n"),
        code("print(df.shape)\n", stream("(891, 12)\n")),
        markdown("Plot it"),
        code("df.plot()\n", result("<Axes: >")),
        markdown("The end."),
    ]),
    "long_output": notebook([
        markdown("Many numbers"),
        code("for i in range(1000):\n    print(i)\n", stream("".join(f"{i}\n" for i in range(1000)))),
    ]),
    "empty_outputs": notebook([markdown("Nothing printed"), code("x = 1\n"), markdown("Still nothing"),
                               code("y = 2", stream(""))]),
    "r": notebook([markdown("An R notebook"), code("x <- c(1, 2)\nprint(x)\n", stream("[1] 1 2\n"))], R),
    "only_code": notebook([code("a = 1\n"), code("b = 2\n")]),
    "raw_between": notebook([markdown("Text"), raw("raw text"), code("c = 3\n")]),
    "python_unknown_extension": notebook(
        [markdown("Text"), code("d = 4\n")],
        {**PYTHON, "language_info": {**PYTHON["language_info"], "file_extension": ".pyx_unknown"}},
    ),
    "unknown_language": notebook(
        [markdown("Text"), code("e f g\n")],
        {"kernelspec": {"display_name": "Mystery", "language": "mystery", "name": "mystery"},
         "language_info": {"name": "mystery", "file_extension": ".mystery"}},
    ),
    "no_language_info": notebook([markdown("Text"), code("h = 5\n")], {"kernelspec": PYTHON["kernelspec"]}),
    "not_json": "{ this is not a notebook",
}

# Kaggle's notebook template, the first cell of a new notebook.
KAGGLE_TEMPLATE_CELL = """\
# This Python 3 environment comes with many helpful analytics libraries installed
# It is defined by the kaggle/python Docker image: https://github.com/kaggle/docker-python
# For example, here's several helpful packages to load

import numpy as np # linear algebra
import pandas as pd # data processing, CSV file I/O (e.g. pd.read_csv)

# Input data files are available in the read-only "../input/" directory
# For example, running this (by clicking run or pressing Shift+Enter) will list all files under the input directory

import os
for dirname, _, filenames in os.walk('/kaggle/input'):
    for filename in filenames:
        print(os.path.join(dirname, filename))

# You can write up to 20GB to the current directory (/kaggle/working/) that gets preserved as output when you create a version using "Save & Run All" 
# You can also write temporary files to /kaggle/temp/, but they won't be saved outside of the current session
"""

# Kaggle records hold the notebook's list of cells (the reference's `kaggle-notebooks-data` `content`).
KAGGLE_CELLS = {
    "template": [
        code(KAGGLE_TEMPLATE_CELL, stream("/kaggle/input/titanic/train.csv\n")),
        markdown("# Titanic\nPredict who survived.<br>"),
        code("%matplotlib inline\n!pip install seaborn\nimport seaborn as sns\ntrain = pd.read_csv('/kaggle/input/titanic/train.csv')\n"),
        code("train.head()", stream("   PassengerId  Survived\n0            1         0\n")),
        markdown("## Features"),
        markdown("We build two features."),
        code("def family(row):\n    return row.SibSp+row.Parch\n"),
        code("train['family']=train.apply(family,axis=1)\n\n\n\nprint(train.family.mean())"),
        markdown("Thank You for reading"),
    ],
    "merged_code": [
        markdown("Short steps"),
        code("x = [1, 2, 3]\n"),
        code("y = [v*2 for v in x]\n"),
        code("print('the doubled values of the list are', y, 'and their sum is', sum(y))\n"),
        markdown("Done, nothing more"),
    ],
    "short": [code("print(1)\n"), markdown("m"), code("print(2)\n"), code("print(3)\n")],
    "few_cells": [markdown("Three cells only, which is too few for the reference"), code("print('hello world')\n" * 20)],
    "syntax_error": [
        markdown("Python 2"),
        code("print 'hello, this is python two and it does not compile any more'\n"),
        code("values = [value for value in range(100) if value % 3 == 0]\n"),
        code("print(values)\n"),
    ],
}
KAGGLE = {name: json.dumps(cells) for name, cells in KAGGLE_CELLS.items()}
# What the reference's metadata retrieval adds to a Kaggle record, and the data files read from it.
KAGGLE_DATASET = {
    "kaggle_dataset_owner": "heptapod", "kaggle_dataset_name": "titanic",
    "dataset_title": "Titanic passengers", "dataset_description": "Who survived the Titanic.",
    "data_files": [
        {"path": "../input/titanic/train.csv", "info": "<class 'pandas.core.frame.DataFrame'>\nRangeIndex: 891 entries",
         "examples": ['{"PassengerId":1,"Survived":0}', '{"PassengerId":2,"Survived":1}']},
        {"path": "../input/titanic/test.csv", "info": "RangeIndex: 418 entries", "examples": ['{"PassengerId":892}']},
    ],
}  # fmt: skip

IR = {
    "complete": {"source": "int add(int a, int b) { return a + b; }\n", "llvm_O3": "; O3\ndefine i32 @add()\n",
                 "llvm_OZ": "; Oz\ndefine i32 @add()\n"},
    "no_size_ir": {"source": "int f(void) { return 0; }\n", "llvm_O3": "; O3\n", "llvm_OZ": ""},
    "no_source": {"source": "", "llvm_O3": "; O3\n", "llvm_OZ": "; Oz\n"},
}


def filter_verdicts(source: str, records: dict[str, dict]) -> tuple[dict, dict]:
    """Each record's fate through the source's filter step, as render_sources.py runs it ("kept" or its reason),
    and the step's counters."""
    from datatrove.data import Document

    from megatron_sc2.sources import SOURCES
    from megatron_sc2.sources.blocks import RecordFilter

    spec = SOURCES[source]
    (check,) = spec.filters(spec.options())
    step = RecordFilter(check)
    documents = [Document(text="", id=name, metadata=dict(record)) for name, record in records.items()]
    kept = {doc.id for doc in step.run(iter(documents))}
    verdicts = {doc.id: "kept" if doc.id in kept else step.filter(doc)[1] for doc in documents}
    counters = {name: int(metric.total) for name, metric in step.stats.stats.items()}
    return verdicts, counters

# Notebooks whose JSON parses but whose cells are not what nbformat 4 says they are.
MALFORMED_NOTEBOOKS = {
    "cell_without_type": notebook([{"metadata": {}, "source": "x = 1"}]),
    "output_text_not_text": notebook([markdown("Text"), code("x = 1\n", {"output_type": "stream", "text": 5})]),
    "source_not_text": notebook([markdown("Text"), {"cell_type": "code", "metadata": {}, "source": 7,
                                                    "outputs": []}]),
}
