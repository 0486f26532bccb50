"""The documented journey, tool after tool, with the recipes' own settings (bf16, dropout 0.1, the
distributed optimizer, model parallelism): curate (ClamAV included) -> train a tokenizer -> preprocess with repository
context -> two-stage training at PP2 x DP2 -> export -> import at TP2 -> continued pretraining
(stopped and resumed) -> export -> evaluate. Each step is checked against a reference outside the
tool that made it: megatron-core's IndexedDataset, transformers' loss on the exact validation
samples, an uninterrupted run, the HF model's loss on the evaluation's windows.

Raw records come in `curate.py`'s default schema, as a user's own corpus would, and each next
command is the one the docs give, with no flags added to bridge the tools.
"""

import json
import math

import numpy as np
import pytest
import yaml
from clamav_db import CLAMD_MISSING, FOUND, PLANTED, signature_db
from journeys.reference import hf_loss, validation_samples
from pretrain_runs import environment, losses, pretrain, read_metrics

from megatron_sc2.conversion import export_to_hf, import_from_hf
from megatron_sc2.support.stdlib_data import run_tool

RECIPE = ["--bf16", "--use-distributed-optimizer", "--hidden-dropout", 0.1, "--attention-dropout", 0.1]
BATCH, SPLIT, VOCAB = 8, "90,10,0", 1024
STAGE_2 = {"seq_length": 128, "rotary_base": 100000.0, "sliding_window": 64, "train_iters": 10}
STAGES = [
    {"name": "base-64", "train_iters": 40, "seq_length": 64, "rotary_base": 10000.0, "global_batch_size": BATCH,
     "lr": 5.0e-3, "min_lr": 5.0e-4, "lr_warmup_iters": 4},
    {"name": "long-128", **STAGE_2, "global_batch_size": BATCH, "lr": 1.0e-3, "min_lr": 1.0e-4, "lr_warmup_iters": 2},
]
pytestmark = pytest.mark.slow  # about 100 s on two cores: a whole run of every tool
# bf16 weights and activations against transformers in fp32: a loss within 2% (a random model is 15% off)
BF16_TOLERANCE = 0.02


def train_args(data: dict, workdir, *extra) -> list:
    return ["--model", "sc2-tiny", "--data-path", data["prefix"], "--data-cache-path", data["cache"],
            "--tokenizer-model", data["tokenizer"], "--split", SPLIT, "--micro-batch-size", 2, "--num-workers", 0,
            "--log-interval", 1, "--eval-iters", 1, "--metrics-file", workdir / "metrics.jsonl", *RECIPE, *extra]


def valid_losses(workdir) -> list[float]:
    return [m["valid_loss"] for m in read_metrics(workdir / "metrics.jsonl") if m.get("valid_loss") is not None]


@pytest.fixture(scope="module")
def journey(tmp_path_factory) -> dict:
    if CLAMD_MISSING:
        pytest.skip(CLAMD_MISSING)
    root = tmp_path_factory.mktemp("journey")
    run_tool("make_stdlib_corpus.py", root / "stdlib.jsonl", "--packages", "json", "email", "logging", "http",
             "urllib", "collections")
    raw = root / "raw"
    raw.mkdir()
    with open(root / "stdlib.jsonl") as f, open(raw / "records.jsonl", "w") as out:
        for line in f:  # a corpus in curate.py's default schema
            record = json.loads(line)
            record["repository"] = record.pop("repo_name")
            out.write(json.dumps(record) + "\n")
        out.write(json.dumps({"content": f"import os\nos.system('{PLANTED}')\n", "path": "setup.py",
                              "repository": "mallory/payload", "language": "Python"}) + "\n")
    run_tool("curate.py", "--input", raw, "--output", root / "curated", "--malware-db", signature_db(root / "clamav"))
    curated = sorted((root / "curated" / "data").glob("*.jsonl"))
    run_tool("train_tokenizer.py", *curated, "--output-dir", root / "tokenizer", "--vocab-size", VOCAB)
    run_tool("preprocess_data.py", "--input", str(root / "curated" / "data" / "*.jsonl"), "--output-prefix",
             root / "code", "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", root / "tokenizer",
             "--repo-context", "--workers", 2)
    data = {"prefix": root / "code_content_document", "tokenizer": root / "tokenizer", "cache": root / "cache",
            "curated": curated}
    (root / "stages.yaml").write_text(yaml.safe_dump({"stages": STAGES}))
    (root / "train").mkdir()
    pretrain(4, train_args(data, root / "train", "--config", root / "stages.yaml", "--pipeline-model-parallel-size", 2,
                           "--eval-interval", 5, "--save", root / "ckpt"))
    export_to_hf(root / "ckpt", root / "hf", tokenizer_model=root / "tokenizer", progress=False)
    return {"root": root, "data": data}


def test_curation_removes_the_planted_malware_and_preprocessing_keeps_one_document_per_repository(journey):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    stats = json.loads((journey["root"] / "curated" / "stats.json").read_text())
    assert stats["malware"] == {FOUND: 1}, stats
    repositories = {json.loads(line)["repository"] for path in journey["data"]["curated"]
                    for line in path.read_text().splitlines()}
    assert "mallory/payload" not in repositories
    assert len(IndexedDataset(str(journey["data"]["prefix"]))) == len(repositories) > 1


def test_two_stage_bf16_training_exports_the_model_it_evaluated(single_process_group, journey):
    """The trainer's last validation loss (stage 2: its rotary base and window, bf16) is the exported HF
    model's own loss on the same samples."""
    config = json.loads((journey["root"] / "hf" / "config.json").read_text())
    assert (config["rope_theta"], config["sliding_window"]) == (STAGE_2["rotary_base"], STAGE_2["sliding_window"])
    trained = valid_losses(journey["root"] / "train")[-1]
    expected = hf_loss(journey["root"] / "hf", validation_samples(
        journey["data"], seq_length=STAGE_2["seq_length"], global_batch_size=BATCH,
        train_iters=STAGE_2["train_iters"], eval_interval=5, eval_iters=1, split=SPLIT))
    assert expected < 0.9 * math.log(VOCAB), f"the model did not learn ({expected:.3f})"
    assert abs(trained - expected) <= BF16_TOLERANCE * expected, (trained, expected)


def test_imported_model_continues_resumes_and_evaluates(single_process_group, journey, tmp_path):
    """Import at TP2, continue at TP2 x DP2 (stopped at iteration 2 and resumed), export, evaluate."""
    data, root = journey["data"], journey["root"]
    import_from_hf(root / "hf", tmp_path / "imported", tensor_parallel=2, progress=False)
    stage = ["--seq-length", STAGE_2["seq_length"], "--rotary-base", STAGE_2["rotary_base"], "--sliding-window",
             STAGE_2["sliding_window"], "--global-batch-size", BATCH, "--tensor-model-parallel-size", 2,
             "--lr", 2e-5, "--min-lr", 2e-6, "--lr-warmup-iters", 0, "--train-iters", 4, "--eval-interval", 1]
    (tmp_path / "whole").mkdir()
    pretrain(4, train_args(data, tmp_path / "whole", *stage, "--load", tmp_path / "imported"))
    (tmp_path / "stopped").mkdir()
    saving = ["--save", tmp_path / "continued", "--save-interval", 2]
    pretrain(4, train_args(data, tmp_path / "stopped", *stage, *saving, "--load", tmp_path / "imported",
                           "--exit-interval", 2))
    pretrain(4, train_args(data, tmp_path / "stopped", *stage, *saving, "--load", tmp_path / "continued"))
    assert losses(tmp_path / "stopped" / "metrics.jsonl") == losses(tmp_path / "whole" / "metrics.jsonl")

    expected = hf_loss(root / "hf", validation_samples(
        data, seq_length=STAGE_2["seq_length"], global_batch_size=BATCH, train_iters=4, eval_interval=1,
        eval_iters=1, split=SPLIT))
    continued = valid_losses(tmp_path / "whole")
    assert len(continued) == 4 and all(abs(v - expected) <= BF16_TOLERANCE * expected for v in continued), \
        (continued, expected)

    export_to_hf(tmp_path / "continued", tmp_path / "hf", tokenizer_model=data["tokenizer"], progress=False)
    run_tool("evaluate.py", "--model", tmp_path / "hf", "--tasks", "perplexity,humaneval", "--limit", 2,
             "--max-new-tokens", 16, "--allow-code-execution", "--perplexity-data", data["prefix"], "--seq-length",
             64, "--perplexity-tokens", 640, "--output", tmp_path / "eval", "--no-progress", env=environment())
    perplexity = json.loads((tmp_path / "eval" / "summary.json").read_text())["metrics"]["perplexity"]
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    dataset = IndexedDataset(str(data["prefix"]))
    stream = np.concatenate([np.asarray(dataset[i], dtype=np.int64) for i in range(len(dataset))])[:641]
    windows = [stream[s:s + 65] for s in range(0, 640, 64)]
    reference = hf_loss(tmp_path / "hf", [{"tokens": w[:-1], "labels": w[1:], "loss_mask": np.ones(64)}
                                          for w in windows])
    assert math.isclose(math.log(perplexity["perplexity"]), reference, rel_tol=1e-4), (perplexity, reference)
