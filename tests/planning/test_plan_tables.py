"""The memory the launchers' headers and docs/training.md quote is the planner's today
(tools/plan_tables.py writes it; --check rewrites nothing and names each stale file)."""

import os
import subprocess
import sys

from megatron_sc2.support import REPO


def test_quoted_plans_are_the_planners():
    result = subprocess.run([sys.executable, "-W", "ignore", "tools/plan_tables.py", "--check"], cwd=REPO,
                            capture_output=True, text=True, timeout=600, check=False,
                            env={**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, f"{result.stderr[-3000:]}\nrun: python tools/plan_tables.py"
