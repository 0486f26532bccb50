"""The reference implementations, run from their fetched mirrors: The Stack v2's pull request renderer
(bigcode-project/the-stack-v2 `pull_requests_and_issues/render.py`, commit REFERENCE_COMMIT) and StarCoder's
issue filters (bigcode-project/bigcode-dataset `preprocessing/utils/utils_issues.py`, ISSUES_COMMIT).

Their modules import Ray, pandas, polars, datasets and torch at the top; only their pure functions are needed,
so these are taken out of the source with `ast` and run against numpy, difflib and a `pd.to_datetime` that keeps
ISO times as they are (they sort the same). One deliberate change: at REFERENCE_COMMIT `render_pr` hands a pull
request's `IssueCommentEvent`s to `render_issue`, which renders only events of type `comment`, so no general
comment is ever rendered; the comparison makes `render_issue` take `IssueCommentEvent`, as its code intends.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import subprocess
import sys
import types
from collections import OrderedDict, defaultdict
from difflib import SequenceMatcher
from pathlib import Path

REFERENCE_COMMIT = "9172041"  # bigcode-project/the-stack-v2 "Update README.md"
ISSUES_COMMIT = "bebec92"  # bigcode-project/bigcode-dataset "Add files via upload"
# Git checkouts of the reference repositories, as `OWNER+NAME/repo` below this folder (CI has none: the stored
# outputs stand in for them).
MIRRORS = Path(os.environ.get("SC2_REFERENCE_MIRRORS", "/nonexistent"))
STACK_V2 = MIRRORS / "bigcode-project+the-stack-v2" / "repo"
BIGCODE_DATASET = MIRRORS / "bigcode-project+bigcode-dataset" / "repo"


def available() -> bool:
    return (STACK_V2 / "HEAD").exists() and (BIGCODE_DATASET / "HEAD").exists()


def _source(repo: Path, commit: str, path: str) -> str:
    return subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], check=True, capture_output=True,
                          text=True).stdout


def _pure_parts(source: str, namespace: dict) -> dict:
    """Executes the module's functions, classes and constant assignments (not its imports or decorators)."""
    tree = ast.parse(source)
    kept = []
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            node.decorator_list = []
            kept.append(node)
        elif isinstance(node, ast.Assign):
            kept.append(node)
    exec(compile(ast.Module(body=kept, type_ignores=[]), "<reference>", "exec"), namespace)  # noqa: S102
    return namespace


def pr_module() -> types.SimpleNamespace:
    import numpy as np

    events = _pure_parts(_source(STACK_V2, REFERENCE_COMMIT, "pull_requests_and_issues/process_pr_events.py"),
                         {"re": re, "OrderedDict": OrderedDict, "defaultdict": defaultdict})
    render = _source(STACK_V2, REFERENCE_COMMIT, "pull_requests_and_issues/render.py")
    render = render.replace("if data['type'] == 'comment':", "if data['type'] == 'IssueCommentEvent':")
    pandas = types.SimpleNamespace(to_datetime=lambda value: value)
    namespace = _pure_parts(render, {
        "np": np, "SequenceMatcher": SequenceMatcher, "defaultdict": defaultdict, "sys": sys, "Path": Path,
        "json": json, "re": re, "pd": pandas, "ppre": types.SimpleNamespace(**events),
    })
    return types.SimpleNamespace(**namespace)


def render_pr(module, record: dict, **params) -> str:
    """The reference's text for one raw pull request ('' when it drops it), with RenderParams overridden."""
    render_params = module.RenderParams()
    for name, value in params.items():
        setattr(render_params, name, value)
    row = module.render_pr(copy.deepcopy(record), None, render_params, True, None)
    return row["render"]


def issues_module() -> types.SimpleNamespace:
    source = _source(BIGCODE_DATASET, ISSUES_COMMIT, "preprocessing/utils/utils_issues.py")
    return types.SimpleNamespace(**_pure_parts(source, {"re": re, "OrderedDict": OrderedDict}))


def filter_issue(module, record: dict, max_lines: int) -> list[list[str]] | None:
    """The reference's events of one raw issue after its filters and pseudonyms, as [author, text] pairs, or None
    when it drops the issue (filtering_issues.py's order: merge, strip, truncate, bots, size and users, names)."""
    example = module.merge_text_columns(copy.deepcopy(record))
    example = module.strip_automated_email_text(example)
    example = module.truncate_long_comments(example, max_lines=max_lines)
    example = module.remove_bot_comments(example)
    if example["bot_issue"]:
        return None
    example["text_size"] = sum(len(event["text"]) for event in example["events"])
    example["user_count"] = len({event["author"] for event in example["events"]})
    example["event_count"] = len(example["events"])
    if not module.filter_on_users_size(example):
        return None
    example = module.replace_usernames(example)
    return [[event["masked_author"], event["text"]] for event in example["events"]]
