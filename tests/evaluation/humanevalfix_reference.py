"""bigcode-evaluation-harness's HumanEvalFix and its metric, run from their fetched mirrors.

- The task: `bigcode_eval/tasks/humanevalpack.py` at HARNESS_COMMIT (`humanevalfixtests-LANG`, `--prompt issue`):
  its prompt, stop words, `postprocess_generation` and `process_results`, which assembles the programs.
- The metric: `process_results` loads Muennighoff/code_eval_octopack from the Hugging Face Hub; its files
  (code_eval_octopack.py, execute.py) are taken from yh1105/open-freeform-code-qa-suite at METRIC_COMMIT, a
  verbatim copy of the Space (the same file sizes as the Space's tree at 715eb84: execute.py 13,047 bytes).

Both modules import packages the comparison needs nothing of (`evaluate` to load the metric, `datasets` for
its schema, the harness's Task base class that downloads the dataset): small stand-ins replace them, the
dataset being the records given. Execution differs in one place, Go: code_eval_octopack copies /app/go.mod and
go.sum of its Docker image (module mode, testify from the module cache); here `go test` finds Debian's testify
in GOPATH mode (GO111MODULE=off, GOPATH=/usr/share/gocode), as our runner does.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import types
from pathlib import Path

HARNESS_COMMIT = "8fc5bae6"  # bigcode-project/bigcode-evaluation-harness "Update multiple.py"
METRIC_COMMIT = "83b03a3"  # yh1105/open-freeform-code-qa-suite "add rouge and code_eval_octopack to be self-contained"
MIRRORS = Path(os.environ.get("SC2_REFERENCE_MIRRORS", "/nonexistent"))
HARNESS = Path(os.environ.get("SC2_BIGCODE_HARNESS", MIRRORS / "bigcode-project+bigcode-evaluation-harness" / "repo"))
METRIC = MIRRORS / "yh1105+open-freeform-code-qa-suite" / "repo"
GO_ENV = {"GO111MODULE": "off", "GOPATH": "/usr/share/gocode"}


def available() -> bool:
    return (HARNESS / "HEAD").exists() and (METRIC / "HEAD").exists()


def _source(repo: Path, commit: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], check=True, capture_output=True,
                          text=True).stdout


class _Dataset(list):
    def select(self, indices):
        return _Dataset(self[i] for i in indices)


class _Metric:
    """What `evaluate.load("Muennighoff/code_eval_octopack")` gives: compute() runs the metric's _compute,
    remembering each program it checks and the per-sample results."""

    def __init__(self, package: types.ModuleType):
        self.package, self.programs, self.results, self.execute = package, {}, None, True

    def compute(self, **kwargs):
        check = self.package.check_correctness

        def remembered(check_program, timeout, task_id, completion_id, *rest):
            self.programs[task_id, completion_id] = check_program
            if not self.execute:
                return {"task_id": task_id, "completion_id": completion_id, "passed": False, "result": "not run"}
            return check(check_program, timeout, task_id, completion_id, *rest)

        self.package.check_correctness = remembered
        try:
            pass_at_k, self.results = self.package.CodeEval()._compute(**kwargs)
        finally:
            self.package.check_correctness = check
        return pass_at_k, self.results


def _metric_package(folder: Path) -> types.ModuleType:
    """code_eval_octopack as an importable package, `evaluate` and `datasets` stood in for."""
    package = folder / "code_eval_octopack"
    package.mkdir()
    for name in ("code_eval_octopack.py", "execute.py"):
        (package / name).write_text(_source(METRIC, METRIC_COMMIT, f"code_eval_octopack/{name}"))
    (package / "__init__.py").write_text("from .code_eval_octopack import CodeEval, check_correctness\n")
    evaluate = types.ModuleType("evaluate")
    evaluate.Metric, evaluate.MetricInfo = object, dict
    evaluate.utils = types.SimpleNamespace(file_utils=types.SimpleNamespace(
        add_start_docstrings=lambda *docs: lambda cls: cls))
    datasets = types.ModuleType("datasets")
    datasets.Features = datasets.Sequence = datasets.Value = lambda *args, **kwargs: None
    for name in [name for name in sys.modules if name.split(".")[0] == "code_eval_octopack"]:
        del sys.modules[name]
    sys.path.insert(0, str(folder))
    try:
        with _modules(evaluate=evaluate, datasets=datasets):
            import code_eval_octopack  # noqa: F401
    finally:
        sys.path.remove(str(folder))
    return sys.modules["code_eval_octopack.code_eval_octopack"]


@contextlib.contextmanager
def _modules(**modules: types.ModuleType):
    """`modules` importable under their names while the block runs; what was there before, after it."""
    saved = {name: sys.modules.get(name) for name in modules}
    sys.modules.update(modules)
    try:
        yield
    finally:
        for name, module in saved.items():
            if module is None:
                del sys.modules[name]
            else:
                sys.modules[name] = module


def harness(folder: Path, records: dict[str, list[dict]]) -> tuple[types.SimpleNamespace, _Metric]:
    """The harness's humanevalpack module, its dataset per language being `records`, and the metric that its
    process_results loads. Call process_results from within a scratch folder: it writes logs.json there."""
    metric = _Metric(_metric_package(folder))

    class Task:  # bigcode_eval.base.Task, with the records for the dataset it would download
        def __init__(self, stop_words=None, requires_execution=True):
            self.stop_words, self.requires_execution = stop_words, requires_execution
            self.dataset = {"test": _Dataset(records[self.DATASET_NAME])}

    namespace = {"__name__": "humanevalpack"}
    base = types.ModuleType("bigcode_eval.base")
    base.Task = Task
    evaluate = types.ModuleType("evaluate")
    evaluate.load = lambda name: metric
    source = _source(HARNESS, HARNESS_COMMIT, "bigcode_eval/tasks/humanevalpack.py")
    with _modules(**{"bigcode_eval": types.ModuleType("bigcode_eval"), "bigcode_eval.base": base,
                     "evaluate": evaluate}):
        exec(compile(source, "humanevalpack.py", "exec"), namespace)  # noqa: S102
    return types.SimpleNamespace(**namespace), metric


def outcome(result: str) -> str:
    """code_eval_octopack's result, without the program's own output (paths, messages)."""
    return next((kind for kind in ("passed", "timed out", "failed: compilation error") if result.startswith(kind)),
                "failed")


def reference_cases(folder: Path, records: dict[str, list[dict]], generations: dict[str, dict[str, str]],
                    execute: tuple[str, ...]) -> dict:
    """Per problem: the harness's prompt and stop words, and per generation (what follows the prompt) its fixed
    code, the program's sha256 and, for the languages in `execute`, the metric's verdict."""
    module, metric = harness(folder, records)
    out = {}
    for language, docs in records.items():
        task = module.create_all_tasks()[f"humanevalfixtests-{language}"](prompt="issue")
        fixed = [{case: task.postprocess_generation(task.get_prompt(doc) + generation, i)
                  for case, generation in generations[doc["task_id"]].items()} for i, doc in enumerate(docs)]
        metric.execute = language in execute
        env = {**os.environ, "HF_ALLOW_CODE_EVAL": "1", **(GO_ENV if language == "go" else {})}
        if metric.execute and language == "go":  # the steady state of the harness's image: testify built
            subprocess.run(["go", "build", "github.com/stretchr/testify/assert"], env=env, check=True)
        cwd, saved = os.getcwd(), dict(os.environ)
        os.chdir(folder)
        os.environ.update(env)
        try:
            task.process_results([list(cases.values()) for cases in fixed],
                                 [task.get_reference(doc) for doc in docs])
        finally:
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(saved)
        for i, doc in enumerate(docs):
            results = dict(metric.results[i])
            out[doc["task_id"]] = {
                "prompt_sha256": sha256(task.get_prompt(doc)),
                "stops": list(dict.fromkeys(task.stop_words)),
                "cases": {case: {"generation": generations[doc["task_id"]][case], "fixed": code,
                                 "program_sha256": sha256(metric.programs[i, j]),
                                 "result": outcome(results[j]["result"]) if metric.execute else None}
                          for j, (case, code) in enumerate(fixed[i].items())},
            }
    return out


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()
