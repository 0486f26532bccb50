"""Kaggle notebooks (StarCoder2 paper §5.4): a Kaggle notebook as a Python script under `<jupyter_script>`, with the
Kaggle dataset it reads prepended for some notebooks:

    <jupyter_start><jupyter_text>title\\ndescription\\nKaggle dataset identifier: owner/name
    <jupyter_code>import pandas as pd\\n\\ndf = pd.read_csv("path")\\ndf.info()<jupyter_output>df.info() output
    <jupyter_text>Examples:\\nexample 1\\n...\\nexample 4    (one code-output-text block per data file)
    <jupyter_script>script

The script is the reference's, bigcode-project/the-stack-v2 `kaggle/convert_notebooks_to_scripts.py` and
`kaggle/utils/processing_utils.py` (commit 9172041), without code execution: markdown as `# ` comments, magic and
shell lines and Kaggle's boilerplate removed, formatted with black, the Kaggle template stripped. The reference holds
no code for the dataset blocks; their layout is the paper's.
"""

import functools
import json
import random
import re
import warnings
from dataclasses import dataclass

import black

START, TEXT, CODE, OUTPUT, SCRIPT = (
    "<jupyter_start>", "<jupyter_text>", "<jupyter_code>", "<jupyter_output>", "<jupyter_script>",
)  # fmt: skip
MAX_CONTENT_CHARS = 5_000_000  # the reference skips larger notebooks
MIN_SCRIPT_CHARS = 100  # scripts of at most this many characters go
MAX_CODE_LINE_CHARS = 600
CODE_BOILERPLATE = (
    "This Python 3 environment comes", "here's several helpful packages to load",
    "defined by the kaggle/python docker image", "defined by the kaggle/python Docker image", "Copyright (C)",
)  # fmt: skip
SHELL_PREFIXES = ("%", "!", "cd ", "pip ", "apt ", "wget ")
MARKDOWN_BOILERPLATE = (
    "IntroductionGreetings from the Kaggle bot!", "Kaggle bot", "Kaggle kerneler bot", "automatically-generated",
    "clicking run or pressing Shift+Enter", "https://www.kaggle.com/learn/python", "Thank You",
)  # fmt: skip
# The first cell of Kaggle's notebook template, as black formats it; stripped from the start of a script.
TEMPLATE = (
    "# It is defined by the kaggle/python Docker image: https://github.com/kaggle/docker-python\n"
    "import numpy as np  # linear algebra\n"
    "import pandas as pd  # data processing, CSV file I/O (e.g. pd.read_csv)\n\n"
    '# Input data files are available in the read-only "../input/" directory\n'
    "# For example, running this (by clicking run or pressing Shift+Enter) will list all files under the input "
    "directory\nimport os\n\n"
    'for dirname, _, filenames in os.walk("/kaggle/input"):\n'
    "    for filename in filenames:\n"
    "        print(os.path.join(dirname, filename))\n"
    "# You can write up to 20GB to the current directory (/kaggle/working/) that gets preserved as output when you "
    'create a version using "Save & Run All"\n'
    "# You can also write temporary files to /kaggle/temp/, but they won't be saved outside of the current session"
)
SHORT_TEMPLATE = "# It is defined by the kaggle/python Docker image: https://github.com/kaggle/docker-python\n"


@dataclass(frozen=True)
class Options:
    """Shares of notebooks (paper §5.4) that get their dataset's title, description and identifier, and among all
    notebooks those that also get the schema and examples of its data files (a subset of the former)."""

    description: float = 0.42
    schema: float = 0.086

    def __post_init__(self):
        if not 0 <= self.schema <= self.description <= 1:
            raise ValueError(f"Kaggle options: need 0 <= schema ({self.schema}) <= description "
                             f"({self.description}) <= 1")


def _output_text(outputs: list) -> str:
    """The reference's text of a cell's outputs, as far as it decides whether the cell has any (which decides
    merging). The reference also empties 20% of rich outputs at random; here they stay."""
    text = ""
    for output in outputs:
        if "data" in output:
            for key, value in output["data"].items():
                content = "".join(value)
                if key == "text/html" and ("dataframe" in content or "<table" in content):
                    text += "table" if re.search(r"<table.*<t[hd][\s>]", content, re.DOTALL) else ""
                    break
                if key in ("text/markdown", "text/latex"):
                    text += content
                    break
                if key in ("text/plain", "text/html"):
                    if ", ?B/s]" not in content and "................" not in content:  # progress bars
                        text += content.strip("\n") + "\n"
                    text = text.replace('"""', "")
        elif "text" in output:
            text += "".join(output["text"]).strip("\n") + "\n"
    return text.strip("\n")


def _segments(cells: list) -> tuple[list[str], list[str]]:
    """Sources and types of the non-empty cells, a cell without output merged into the next cell of its type."""
    sources, types, has_output = [], [], []
    for cell in cells:
        if len(cell["source"]) > 0:
            sources.append("".join(cell["source"]))
            types.append(cell["cell_type"])
            has_output.append(bool(_output_text(cell["outputs"])) if "outputs" in cell else False)
    for i in range(len(sources) - 1):
        if not has_output[i] and types[i] == types[i + 1]:
            sources[i + 1] = sources[i] + "\n" + sources[i + 1]
            sources[i], types[i] = "", ""
    # as the reference, which filters the two lists apart
    return [source for source in sources if source != ""], [kind for kind in types if kind != ""]


def _clean_code(code: str) -> str:
    lines = re.sub("\n(\n+)", "\n\n", code).split("\n")
    for i, line in enumerate(lines):
        line = line.strip()
        if line.startswith(SHELL_PREFIXES) or len(line) > MAX_CODE_LINE_CHARS:
            lines[i] = ""
        if any(phrase in line for phrase in CODE_BOILERPLATE):
            lines[i] = ""
    return "\n".join(line for line in lines if line.strip() != "")


def _comment(markdown: str) -> str:
    text = re.sub(r"\n+", "\n", re.sub(r"\r\n", "\n", re.sub(r"<.*?>", "", markdown)))
    if any(phrase in text for phrase in MARKDOWN_BOILERPLATE) or text == "":
        return ""
    return "\n".join("# " + line.strip() for line in text.split("\n"))


def _raw_script(cells: list) -> str:
    """The reference's `parse_jupyter_into_script(notebook, use_code_execution=False)`."""
    if len(cells) < 4:
        return ""
    sources, types = _segments(cells)
    if "code" not in types:
        return ""
    script = ""
    for i, (source, kind) in enumerate(zip(sources, types)):
        if i == len(sources) - 1 and kind == "markdown":
            break
        part = _clean_code(source) if kind == "code" else _comment(source) if kind == "markdown" else ""
        if part != "":
            script += ("\n" if kind == "markdown" else "") + part + "\n" + ("\n" if "def " in part else "")
    return script


def _compiles(script: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # invalid escape sequences and the like: not errors
        try:
            compile(script, "<string>", "exec")
        except (SyntaxError, ValueError, OverflowError, RecursionError, MemoryError):
            return False
    return True


def _black(script: str) -> str:
    try:
        return black.format_str(script, mode=black.Mode())
    except Exception:  # noqa: BLE001 - black fails in many ways on code it cannot format; the script stays
        return script


def _formatted(script: str) -> str:
    script = _black(script)
    for template in (TEMPLATE, SHORT_TEMPLATE):
        if script.startswith(template):
            script = script[len(template):].strip()
    return script


@functools.lru_cache(maxsize=8)  # the filter, then the renderer, convert the same notebook
def _script(content: str) -> str:
    """The notebook's formatted script; raises ValueError naming why there is none."""
    if len(content) > MAX_CONTENT_CHARS:
        raise ValueError("too_large")
    try:
        cells = json.loads(content)
        script = _raw_script(cells["cells"] if isinstance(cells, dict) else cells)
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ValueError("unreadable_notebook") from None
    if len(script) <= MIN_SCRIPT_CHARS:
        raise ValueError("short")
    if not _compiles(script):
        raise ValueError("syntax_error")
    return _formatted(script)


def removal_reason(record: dict, options: Options) -> str | None:
    try:
        _script(record["content"])
    except ValueError as error:
        return str(error)
    return None


def _identifier(record: dict) -> str | None:
    owner, name = record.get("kaggle_dataset_owner"), record.get("kaggle_dataset_name")
    return f"{owner}/{name}" if owner and name else None


def _data_file(data_file: dict) -> str:
    code = f"import pandas as pd\n\ndf = pd.read_csv({json.dumps(data_file['path'])})\ndf.info()"
    return f"{CODE}{code}{OUTPUT}{data_file['info']}{TEXT}Examples:\n" + "\n".join(data_file["examples"])


def render(record: dict, rng: random.Random, options: Options) -> str:
    """`record["content"]` (the notebook's JSON, or its list of cells) as a script; when the record names its
    dataset (`kaggle_dataset_owner`, `kaggle_dataset_name`, `dataset_title`, `dataset_description`), that
    dataset first for `options.description` of notebooks, and its `data_files` (`path`, `info`, `examples`) for
    `options.schema`."""
    script = SCRIPT + _script(record["content"])
    identifier, title, description = _identifier(record), record.get("dataset_title"), record.get("dataset_description")
    if not (identifier and title and description) or rng.random() >= options.description:
        return script
    head = f"{START}{TEXT}{title}\n{description}\nKaggle dataset identifier: {identifier}"
    data_files = record.get("data_files") or []
    if data_files and rng.random() < options.schema / options.description:
        head += "".join(_data_file(data_file) for data_file in data_files)
    return head + script
