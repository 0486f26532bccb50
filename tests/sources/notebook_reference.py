"""The reference implementations, run on the planted records: the functions of bigcode-project/the-stack-v2
(commit 9172041, `kaggle/`) and bigcode-project/bigcode-dataset (commit bebec92, `preprocessing/jupyter*`, which
the-stack-v2's `Jupyter_notebooks/README.md` points to), imported from a temporary copy of the fetched mirrors.

Their modules import libraries the functions used here never call (`datasets`, `guesslang`, the Hub upload
helper); those imports get empty stand-ins.

`python tests/sources/notebook_reference.py` writes `notebook_reference_outputs.json` beside it, which CI (no mirrors) compares
against; the tests also recompute it when the mirrors are here.
"""

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from notebook_planted import KAGGLE, NOTEBOOKS

# Git checkouts of the reference repositories, as `OWNER+NAME/repo` below this folder (CI has none: the stored
# outputs stand in for them).
MIRRORS = Path(os.environ.get("SC2_REFERENCE_MIRRORS", "/nonexistent"))
STACK_V2 = ("bigcode-project+the-stack-v2", "9172041")
BIGCODE_DATASET = ("bigcode-project+bigcode-dataset", "bebec92")
OUTPUTS = HERE / "notebook_reference_outputs.json"


def mirror(repo: tuple[str, str]) -> Path:
    return MIRRORS / repo[0] / "repo"


def available() -> bool:
    """The mirrors are here, and what the reference imports (BeautifulSoup) is installed."""
    import importlib.util

    mirrored = all((mirror(repo) / "HEAD").exists() for repo in (STACK_V2, BIGCODE_DATASET))
    return mirrored and importlib.util.find_spec("bs4") is not None


def _copy(repo: tuple[str, str], path: str, folder: Path) -> Path:
    """The file at the pinned commit, written under `folder`."""
    text = subprocess.run(["git", "-C", str(mirror(repo)), "show", f"{repo[1]}:{path}"], check=True,
                          capture_output=True, text=True).stdout
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


@contextlib.contextmanager
def _stand_ins():
    names = {"datasets": ("load_dataset", "load_from_disk", "Dataset"), "guesslang": ("Guess",),
             "utils.manual_sharding": ("save_manual_shards",)}
    saved = {name: sys.modules.get(name) for name in names}
    for name, attributes in names.items():
        module = types.ModuleType(name)
        for attribute in attributes:
            setattr(module, attribute, None)
        sys.modules[name] = module
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def _load(path: Path, name: str) -> types.ModuleType:
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _jupyter_structured(folder: Path) -> dict[str, str | None]:
    segment = _load(_copy(BIGCODE_DATASET, "preprocessing/jupyter-structured/jupyter-segment-notebooks.py", folder),
                    "ref_segment")
    triplets = _load(_copy(BIGCODE_DATASET, "preprocessing/jupyter-structured/jupyter-generate-triplets.py", folder),
                     "ref_triplets")
    cells = json.loads(_copy(BIGCODE_DATASET, "preprocessing/jupyter-structured/jupyter-structured.ipynb",
                             folder).read_text())["cells"]
    source = next("".join(c["source"]) for c in cells if "def build_content" in "".join(c["source"]))
    namespace: dict = {}
    exec(source.split("\ncurrent_repo_path")[0], namespace)  # noqa: S102 - the notebook cell's function, not its loop
    outputs = {}
    for name, content in NOTEBOOKS.items():
        row = segment.segment({"content": content, "max_issues_repo_licenses": ["mit"],
                               "max_stars_repo_path": f"{name}.ipynb", "max_stars_repo_name": "planted"})
        lines = [] if row["cell_types"] == ["empty"] else list(triplets.parse_data([row]))
        outputs[name] = ("<jupyter_start>" + "".join(
            namespace["build_content"](line["markdown"], line["code"], line["output"]) for line in lines
        )) if lines else None
    return outputs


def _jupyter_scripts(folder: Path) -> dict[str, str | None]:
    conversion = _load(_copy(BIGCODE_DATASET, "preprocessing/jupyter_script_conversion.py", folder), "ref_scripts")
    outputs = {}
    for name, content in NOTEBOOKS.items():
        work = Path(tempfile.mkdtemp(dir=folder))
        (work / "script").mkdir()
        (work / "unknown").mkdir()
        cwd = os.getcwd()
        os.chdir(work)  # it logs unreadable notebooks to a file in the working directory
        try:
            conversion.convert_to_script([{"content": content}], "script", "unknown")
        finally:
            os.chdir(cwd)
        scripts = list((work / "script").iterdir())
        outputs[name] = "<jupyter_script>" + scripts[0].read_text() if scripts else None
    return outputs


def _kaggle(folder: Path) -> dict[str, str | None]:
    _copy(STACK_V2, "kaggle/utils/processing_utils.py", folder)
    script = _copy(STACK_V2, "kaggle/convert_notebooks_to_scripts.py", folder)
    sys.path.insert(0, str(script.parent))  # it imports utils.processing_utils from its folder
    try:
        convert = _load(script, "ref_kaggle")
    finally:
        sys.path.remove(str(script.parent))
    outputs = {}
    for name, content in KAGGLE.items():
        script = None
        if len(content) <= 500_0000:  # process_kaggle_jupyter's filters, in its order
            example = convert.parse_whole_content_kaggle({"content": content})
            if len(example["script"]) > 100 and convert.check_syntax(example["script"]):
                script = convert.format_code(example)["script"]
        outputs[name] = None if script is None else "<jupyter_script>" + script
    return outputs


def reference_outputs() -> dict:
    """Per source and planted record, the reference's text, or None where it keeps no text."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # the reference's progress bars
    with tempfile.TemporaryDirectory() as tmp, _stand_ins():
        folder = Path(tmp)
        try:
            return {
                "commits": {"the-stack-v2": STACK_V2[1], "bigcode-dataset": BIGCODE_DATASET[1]},
                "jupyter-structured": _jupyter_structured(folder),
                "jupyter-scripts": _jupyter_scripts(folder),
                "kaggle": _kaggle(folder),
            }
        finally:
            sys.modules.pop("utils", None)
            sys.modules.pop("utils.processing_utils", None)


if __name__ == "__main__":
    OUTPUTS.write_text(json.dumps(reference_outputs(), indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {OUTPUTS}")
