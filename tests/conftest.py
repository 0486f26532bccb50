import os
from pathlib import Path

import pytest
from shared_artifacts import build_once
from slurm_cluster import Slurm, missing_binaries

from megatron_sc2.support import free_port, stdlib_dataset


@pytest.fixture(scope="session")
def single_process_group():
    """A one-rank gloo group with megatron-core's parallel state, for in-process model tests."""
    from megatron_sc2 import runtime
    from megatron_sc2.config import ParallelConfig

    port = free_port()
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


# The stdlib packages the training tokenizer learns from; the dataset holds all of make_stdlib_corpus.py's.
TOKENIZER_PACKAGES = ["json", "email", "logging", "http", "urllib", "collections"]


@pytest.fixture(scope="session")
def training_data(tmp_path_factory) -> dict:
    """A repository-context dataset of stdlib code, its tokenizer and JSONL corpus, and an index cache:
    the data of every test that trains (one per run)."""

    def build(root: Path) -> None:  # ~200 repositories, one document each
        stdlib_dataset(root, tokenizer_packages=TOKENIZER_PACKAGES)

    root = build_once(tmp_path_factory, "training_data", build, packages=TOKENIZER_PACKAGES)
    # megatron-core writes its index cache without a lock: one cache folder per xdist worker.
    cache = root / f"cache-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}"
    return {**stdlib_dataset(root), "cache": cache}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config, items):
    """How pytest-xdist (`--dist loadgroup`) shares the tests between its workers.

    Tests that share a module-scoped fixture (a trained checkpoint, a reference run) stay on one
    worker, so the fixture is built once; so do all files that start the session's SLURM, so one
    cluster runs, and they come first: the longest chain of tests on one worker must not be the last.
    The tests that train, the longest, come next; each test goes to whichever worker is free, so the
    last ones handed out are short.
    """
    def shares_module_state(item) -> bool:
        return any(d.scope in ("module", "class", "package")
                   for defs in item._fixtureinfo.name2fixturedefs.values() for d in defs)

    slurm_files = {item.path for item in items if "slurm" in item.fixturenames}
    grouped_files = {item.path for item in items if shares_module_state(item)}
    for item in items:
        if item.path in slurm_files:
            item.add_marker(pytest.mark.xdist_group("slurm"))
        elif item.path in grouped_files:
            item.add_marker(pytest.mark.xdist_group(item.path.relative_to(config.rootpath).as_posix()))
    items.sort(key=lambda item: (item.path not in slurm_files, "training_data" not in item.fixturenames))
