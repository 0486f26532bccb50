"""The documented sequence from a published dataset to training (examples/data/published_to_training.sh,
docs/published-datasets.md), run whole: a planted sample of The Stack v2's training set (a row per repository,
standard-library files as contents) is fetched from a local S3 server, curated, preprocessed with repository
context, blended by a recipe and trained on for 2 iterations of sc2-tiny."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from clamav_db import CLAMD_MISSING, signature_db
from s3_server import NO_CREDENTIALS, S3Server, blob

from megatron_sc2.data.dataset_writer import dataset_prefix

REPO_ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow  # about 20 s on two cores (more with the session tokenizer to build): every tool, and a training run


def training_set_sample(s3: S3Server, records: list[dict], folder: Path) -> Path:
    repos: dict[str, list[dict]] = {}
    for record in records:
        s3.plant(blob(record["repository"] + record["path"]), record["content"].encode("utf-8"))
        repos.setdefault(record["repository"], []).append(
            {"blob_id": blob(record["repository"] + record["path"]), "path": record["path"], "src_encoding": "UTF-8",
             "language": "Python", "license_type": "permissive", "is_vendor": False, "is_generated": False})
    rows = [{"repo_name": repo, "star_events_count": 5, "fork_events_count": 1, "files": files}
            for repo, files in repos.items()]
    folder.mkdir()
    pq.write_table(pa.Table.from_pylist(rows), folder / "train-00000-of-00001.parquet")
    return folder


@pytest.mark.skipif(CLAMD_MISSING is not None, reason=CLAMD_MISSING or "")
def test_published_training_set_to_two_training_iterations(tmp_path, stdlib_records, sc2_tokenizer_dir):
    sample = [r for r in stdlib_records if r["repository"] in ("cpython/json", "cpython/email", "cpython/http")]
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("model: sc2-tiny\nmax_epochs: 5\nsources:\n  the-stack-v2-train-smol: 0.0001\n")
    env = {**os.environ, **{k: v for k, v in NO_CREDENTIALS.items() if v}, "PYTHONPATH": str(REPO_ROOT),
           "OMP_NUM_THREADS": "1", "IDS": str(tmp_path / "ids"), "SOURCE": "the-stack-v2-train-smol",
           "TOKENIZER": str(sc2_tokenizer_dir), "MALWARE_DB": str(signature_db(tmp_path / "clamav")), "RECIPE": str(recipe), "TRAIN_TOKENS": str(2 * 4 * 64),
           "MODEL": "sc2-tiny", "WORK": str(tmp_path / "work"), "PYTHON": sys.executable}
    for name in (k for k, v in NO_CREDENTIALS.items() if v is None):
        env.pop(name, None)
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):  # a session process group's
        env.pop(name, None)
    with S3Server() as s3:
        training_set_sample(s3, sample, tmp_path / "ids")
        env["ENDPOINT_URL"] = s3.url
        run = subprocess.run(
            [str(REPO_ROOT / "examples" / "data" / "published_to_training.sh"), "--seq-length", "64",
             "--micro-batch-size", "2", "--global-batch-size", "4", "--train-iters", "2", "--split", "2,1,0",
             "--lr", "3e-3", "--min-lr", "3e-4", "--lr-warmup-iters", "1", "--eval-iters", "1", "--eval-interval",
             "1000", "--num-workers", "0", "--log-interval", "1", "--data-cache-path", str(tmp_path / "cache"),
             "--metrics-file", str(tmp_path / "metrics.jsonl")],
            env=env, capture_output=True, text=True, timeout=900, check=False)
        assert run.returncode == 0, run.stderr[-3000:]
        assert len(s3.served) == len(sample) and set(s3.served.values()) == {1}
    fetched = json.loads((tmp_path / "work" / "fetched" / "the-stack-v2-train-smol" / "stats.json").read_text())
    assert (fetched["objects"], fetched["written"], fetched["bad"]) == (len(sample), len(sample), {})
    manifest = json.loads(Path(dataset_prefix(str(tmp_path / "work" / "tok" / "the-stack-v2-train-smol"),
                                              "content") + ".manifest.json").read_text())
    assert list(manifest["by_source"]) == ["the-stack-v2-train-smol"]
    assert manifest["documents"] == 3  # one per repository
    metrics = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [m["iteration"] for m in metrics if "loss" in m] == [1, 2]
