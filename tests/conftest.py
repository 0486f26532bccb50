import os
import socket

import pytest
from slurm_cluster import Slurm, missing_binaries


@pytest.fixture(scope="session")
def single_process_group():
    """A one-rank gloo group with megatron-core's parallel state, for in-process model tests."""
    from megatron_sc2 import runtime
    from megatron_sc2.config import ParallelConfig

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    saved = {k: os.environ.get(k) for k in ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "LOCAL_RANK")}
    os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    runtime.initialize(ParallelConfig(), seed=1234)
    yield
    runtime.destroy()
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """A real one-node SLURM for the session (CI installs it: .ci/run)."""
    missing = missing_binaries()
    if missing:
        pytest.skip(f"SLURM is not installed here (missing {', '.join(missing)}): see .ci/run for the packages")
    cluster = Slurm(tmp_path_factory.mktemp("slurm"))
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()
