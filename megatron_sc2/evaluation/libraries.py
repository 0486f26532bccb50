"""The installed packages a benchmark's programs import (DS-1000's numpy and pandas, CanItEdit's torch and
z3): which of them the sandbox's Python imports, at which version, and so which problems can run here.

A problem whose program imports a module the sandbox cannot import is skipped and reported, never scored 0:
that score would measure the machine, not the model. The versions go into summary.json beside the score,
since the benchmarks were made with others (DS-1000 pins numpy 1.26.4, pandas 1.5.3, ...), and a library's
behaviour can decide a verdict.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Sequence

from megatron_sc2.evaluation.sandbox import Sandbox
from megatron_sc2.evaluation.tasks import Problem, Task

IMPORTS = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import|import[ \t]+([\w., \t]+))", re.MULTILINE)
MARK = "version: "
# One module's import in the sandbox; its version from its distribution, else its __version__. The library's
# own noise on stderr (TensorFlow's) goes to /dev/null, so the answer is the last line of the output.
PROBE = """import importlib, importlib.metadata, os
os.dup2(os.open(os.devnull, os.O_WRONLY), 2)
module = importlib.import_module({name!r})
distributions = importlib.metadata.packages_distributions().get({name!r})
version = importlib.metadata.version(distributions[0]) if distributions else getattr(module, "__version__", "?")
print({mark!r} + str(version))
"""


def imported_modules(*sources: str) -> tuple[str, ...]:
    """The top-level modules outside the standard library that `import` lines of the sources name, code held in
    strings included (DS-1000's exec_context)."""
    names = set()
    for package, imported in IMPORTS.findall("\n".join(sources)):
        for name in [package] if package else imported.split(","):  # import numpy as np, pandas as pd
            names.add((name.split() or [""])[0].split(".")[0])  # "" for a relative import
    return tuple(sorted(names - set(sys.stdlib_module_names) - {""}))


def versions(sandbox: Sandbox, modules: Sequence[str]) -> dict[str, str | None]:
    """Per module, its version as the sandbox's Python imports it; None where that import fails."""
    outcomes = sandbox.run_many([sandbox.python(PROBE.format(name=name, mark=MARK)) for name in modules])
    found = {}
    for name, outcome in zip(modules, outcomes):
        lines = [line for line in outcome.output.splitlines() if line.startswith(MARK)]
        found[name] = lines[-1].removeprefix(MARK) if outcome.passed and lines else None
    return found


def runnable(task: Task, problems: Sequence[Problem], sandbox: Sandbox) -> tuple[list[Problem], dict]:
    """The problems whose modules the sandbox imports, and what summary.json says of it: `libraries` (each
    module's version, None: not importable), `skipped_problems` and, per missing module, how many it skipped.
    Nothing for a task whose programs import no installed package."""
    needs = {p.task_id: set(task.modules(p)) for p in problems}
    wanted = sorted(set().union(*needs.values()))
    if not wanted:
        return list(problems), {}
    found = versions(sandbox, wanted)
    missing = {name for name, version in found.items() if version is None}
    kept = [p for p in problems if not needs[p.task_id] & missing]
    skipped = Counter(name for p in problems for name in needs[p.task_id] & missing)
    return kept, {"libraries": found, "skipped_problems": len(problems) - len(kept),
                  "skipped_for": dict(sorted(skipped.items()))}
