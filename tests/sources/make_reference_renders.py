"""Writes `reference_renders.json`: the reference implementations' output on the planted records (see
`reference.py`), which the tests compare this repository's renderers with when the mirrors are absent (CI).

    PYTHONPATH=. python tests/sources/make_reference_renders.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

import planted
import reference

FIXTURE = Path(__file__).with_name("reference_renders.json")
MAX_COMMENT_LINES = 100
# Each reference RenderParams setting pins every random choice (numpy's draws are then fixed or unused).
PR_SETTINGS = {
    "changed_ranges": {"randomness_on": False, "subsample_langs": {}, "max_pr_length": 100_000},
    "whole_base": {"randomness_on": True, "subsample_pr_per_repo": False, "base_code_full_code_prob": 1.0,
                   "commit_diff_hunk_min_extra_lines_range": 5, "commit_diff_hunk_max_extra_lines_range": 6,
                   "subsample_langs": {}, "max_pr_length": 100_000},
}


def reference_renders() -> dict:
    prs, issues = reference.pr_module(), reference.issues_module()
    return {
        "the-stack-v2": reference.REFERENCE_COMMIT,
        "bigcode-dataset": reference.ISSUES_COMMIT,
        "prs": {name: {r["pull_request.guid"]: reference.render_pr(prs, r, **params) for r in planted.pr_cases()}
                for name, params in PR_SETTINGS.items()},
        "issues": {str(r["issue_id"]): reference.filter_issue(issues, r, MAX_COMMENT_LINES)
                   for r in planted.issue_cases()},
    }


if __name__ == "__main__":
    FIXTURE.write_text(json.dumps(reference_renders(), indent=1, sort_keys=True, ensure_ascii=False) + "\n")
    print(f"wrote {FIXTURE}")
