import os

import pytest

from megatron_sc2.evaluation.sandbox import BUBBLEWRAP, RLIMITS, Limits, Sandbox, bubblewrap_works

NO_BWRAP = "bubblewrap (bwrap) is not installed or cannot create namespaces here: apt-get install bubblewrap"


def levels():
    """Both isolation levels; the bubblewrap one is skipped, with the reason, where bwrap cannot run."""
    return [pytest.param(BUBBLEWRAP, marks=pytest.mark.skipif(not bubblewrap_works(), reason=NO_BWRAP)), RLIMITS]


@pytest.fixture(params=levels())
def sandbox(request) -> Sandbox:
    return Sandbox(Limits(timeout_s=3, memory_mb=1024, processes=24), isolation=request.param,
                   workers=min(4, os.cpu_count() or 1))
