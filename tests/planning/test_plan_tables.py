"""The memory the launchers' headers and docs/training.md quote is the planner's today
(tools/plan_tables.py writes it; --check rewrites nothing and names each stale file)."""

import os

import pytest
from forked_python import run_python

from megatron_sc2.support import REPO


@pytest.mark.slow  # plans every recipe at its node counts: 7 plans
def test_quoted_plans_are_the_planners():
    result = run_python(["-W", "ignore", "tools/plan_tables.py", "--check"], REPO,
                        {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, f"{result.stderr[-3000:]}\nrun: python tools/plan_tables.py"
