"""A Megatron-LM `pretrain_gpt.py` argument list runs unchanged: a tiny StarCoder2 described by
architecture flags, `--save D --load D` on a fresh D, requeued; then a changed schedule is
refused or overridden as asked, and the checkpoint exports to a folder transformers loads."""

import json
import math
import subprocess
import sys

import pytest
from pretrain_runs import environment, pretrain, read_metrics

from megatron_sc2.checkpoint import latest_iteration
from megatron_sc2.data.tokenizer import HuggingFaceTokenizer

LR, MIN_LR, WARMUP = 3e-3, 3e-4, 2


def megatron_lm_args(data: dict, checkpoint, metrics) -> list[str]:
    return [
        "--num-layers", "4", "--hidden-size", "64", "--ffn-hidden-size", "256", "--num-attention-heads", "8",
        "--group-query-attention", "--num-query-groups", "2", "--max-position-embeddings", "512",
        "--position-embedding-type", "rope", "--rotary-base", "10000", "--normalization", "LayerNorm",
        "--attention-dropout", "0.0", "--hidden-dropout", "0.0", "--init-method-std", "0.02",
        "--make-vocab-size-divisible-by", "100", "--use-mcore-models", "--transformer-impl", "local",
        "--tensor-model-parallel-size", "2", "--pipeline-model-parallel-size", "1", "--distributed-backend", "gloo",
        "--micro-batch-size", "2", "--global-batch-size", "4", "--seq-length", "64",
        "--train-iters", "6", "--lr", str(LR), "--min-lr", str(MIN_LR), "--lr-decay-style", "cosine",
        "--lr-warmup-iters", str(WARMUP), "--lr-decay-iters", "6", "--weight-decay", "0.1", "--adam-beta1", "0.9",
        "--adam-beta2", "0.95", "--clip-grad", "1.0", "--seed", "1234",
        "--data-path", str(data["prefix"]), "--data-cache-path", str(data["cache"]), "--split", "98,2,0",
        "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", str(data["tokenizer"]),
        "--save", str(checkpoint), "--load", str(checkpoint), "--save-interval", "3", "--ckpt-format", "torch_dist",
        "--exit-signal-handler", "--log-interval", "1", "--eval-interval", "1000", "--eval-iters", "1",
        "--num-workers", "0", "--metrics-file", str(metrics),
    ]


def losses_and_lrs(path) -> dict[int, tuple[float, float]]:
    return {m["iteration"]: (m["loss"], m["lr"]) for m in read_metrics(path) if m.get("loss") is not None}


def cosine_lr(step: int, decay: int, max_lr: float) -> float:
    """Megatron's LR for a step taken after `step` earlier ones (after the warmup)."""
    return MIN_LR + 0.5 * (math.cos(math.pi * (step - WARMUP) / (decay - WARMUP)) + 1) * (max_lr - MIN_LR)


@pytest.mark.slow
def test_a_megatron_lm_argument_list_trains_requeues_and_exports(training_data, tmp_path):
    reference = tmp_path / "reference"
    pretrain(2, megatron_lm_args(training_data, reference / "ckpt", reference / "metrics.jsonl"))
    expected = losses_and_lrs(reference / "metrics.jsonl")
    assert sorted(expected) == [1, 2, 3, 4, 5, 6]

    # Requeued: the same command twice; each job exits at a multiple of --exit-interval.
    requeued = tmp_path / "requeued"
    longer = megatron_lm_args(training_data, requeued / "ckpt", requeued / "metrics.jsonl")
    args = longer + ["--exit-interval", "3"]
    first = pretrain(2, args)
    assert "holds no checkpoint yet: starting from scratch" in first.stdout
    assert latest_iteration(requeued / "ckpt") == 3
    pretrain(2, args)
    assert latest_iteration(requeued / "ckpt") == 6
    assert losses_and_lrs(requeued / "metrics.jsonl") == expected  # bitwise, every iteration

    # More iterations at another LR: refused unless a scheduler flag says which schedule wins.
    longer[longer.index("--train-iters") + 1] = "8"
    longer[longer.index("--lr") + 1] = "1e-3"
    refused = pretrain(2, longer, check=False)
    assert refused.returncode != 0
    message = [line for line in (refused.stdout + refused.stderr).splitlines() if "--override-opt_param" in line]
    assert message and "--lr 0.001 (checkpoint: 0.003)" in message[0], refused.stderr[-3000:]
    longer[longer.index("--lr-decay-iters") + 1] = "8"
    pretrain(2, longer + ["--override-opt_param-scheduler"])
    resumed = losses_and_lrs(requeued / "metrics.jsonl")
    assert sorted(resumed) == [1, 2, 3, 4, 5, 6, 7, 8]
    for iteration in (7, 8):  # the new schedule, from the checkpoint's step count
        assert resumed[iteration][1] == pytest.approx(cosine_lr(iteration - 1, 8, 1e-3), rel=1e-9)

    # Export: the real vocabulary (the embedding was padded to 1200 rows), loadable by transformers.
    hf = tmp_path / "hf"
    subprocess.run([sys.executable, "tools/convert_checkpoint.py", "export", "--load", str(requeued / "ckpt"),
                    "--output", str(hf), "--tokenizer-model", str(training_data["tokenizer"]), "--no-progress"],
                   check=True, env=environment(), cwd=str(environment()["PYTHONPATH"]), capture_output=True)
    vocab = HuggingFaceTokenizer(training_data["tokenizer"]).vocab_size
    config = json.loads((hf / "config.json").read_text())
    assert (config["vocab_size"], config["num_hidden_layers"], config["num_key_value_heads"]) == (vocab, 4, 2)
    import torch
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf)
    logits = model(torch.tensor([[1, 2, 3, 4]])).logits
    assert logits.shape == (1, 4, vocab) and torch.isfinite(logits).all()
