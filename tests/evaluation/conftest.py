import os

import pytest

from megatron_sc2.evaluation.sandbox import (
    BUBBLEWRAP,
    RLIMITS,
    UNSHARE,
    Limits,
    Sandbox,
    bubblewrap_works,
    unshare_works,
)

NO_BWRAP = "bubblewrap (bwrap) is not installed or cannot create namespaces here: apt-get install bubblewrap"
NO_UNSHARE = "the unshare level needs root and util-linux unshare with network and PID namespaces"


def levels():
    """Every isolation level; bubblewrap and unshare are skipped, with the reason, where they cannot run."""
    return [pytest.param(BUBBLEWRAP, marks=pytest.mark.skipif(not bubblewrap_works(), reason=NO_BWRAP)),
            pytest.param(UNSHARE, marks=pytest.mark.skipif(not unshare_works(), reason=NO_UNSHARE)), RLIMITS]


@pytest.fixture(params=levels())
def sandbox(request) -> Sandbox:
    return Sandbox(Limits(timeout_s=3, memory_mb=1024, processes=24), isolation=request.param,
                   workers=min(4, os.cpu_count() or 1))
