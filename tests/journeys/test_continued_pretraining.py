"""Continued pretraining keeps the weights it loads, in bf16 with the distributed optimizer and
dropout, from each of the ways a run starts from trained weights: an HF import, `--finetune`, and
`--no-load-optim`. The reference is the HF model's own loss (transformers) on the validation
samples the trainer evaluates after each step at a tiny learning rate.

bf16 keeps fp32 main weights in the optimizer; a load that skips the optimizer state must refresh
them from the loaded model (megatron-core's `reload_model_params`), or the first step writes the
new run's random initialization back into the model (the loss jumps to ln(vocabulary)).
"""

import math

import pytest
from journeys.reference import hf_loss, validation_samples
from pretrain_runs import base_args, losses, pretrain, read_metrics

from megatron_sc2.conversion import export_to_hf, import_from_hf

SEQ, BATCH, SPLIT = 64, 8, "90,10,0"
RECIPE = ["--bf16", "--use-distributed-optimizer", "--hidden-dropout", 0.1, "--attention-dropout", 0.1]
SOURCE_ITERS = 40
CONTINUE = [*RECIPE, "--tensor-model-parallel-size", 2, "--lr", 1e-7, "--min-lr", 1e-8, "--lr-warmup-iters", 0,
            "--eval-interval", 1, "--eval-iters", 1]
# bf16 weights and activations against transformers in fp32: a loss within 2% (a random model is 15% off)
BF16_TOLERANCE = 0.02


def args(data, workdir, *extra):
    return base_args(data, workdir, "--seq-length", SEQ, "--global-batch-size", BATCH, "--split", SPLIT, *extra)


@pytest.fixture(scope="module")
def source(training_data, tmp_path_factory) -> dict:
    """sc2-tiny trained in bf16 until it is far from random, its checkpoint (with optimizer state)
    and its HF export."""
    root = tmp_path_factory.mktemp("source")
    pretrain(2, args(training_data, root / "run", *RECIPE, "--lr", 5e-3, "--min-lr", 5e-4, "--lr-warmup-iters", 4,
                     "--train-iters", SOURCE_ITERS, "--save", root / "ckpt"))
    export_to_hf(root / "ckpt", root / "hf", tokenizer_model=training_data["tokenizer"], progress=False)
    return {"root": root, "ckpt": root / "ckpt", "hf": root / "hf"}


def reference(data, hf, train_iters: int) -> float:
    samples = validation_samples(data, seq_length=SEQ, global_batch_size=BATCH, train_iters=train_iters,
                                 eval_interval=1, eval_iters=1, split=SPLIT)
    return hf_loss(hf, samples)


def assert_keeps_the_source(workdir, expected: float, vocab: int) -> None:
    """Validation (no dropout) equals the reference within bf16; training (dropout 0.1) stays far
    nearer it than a random model's ln(vocab)."""
    assert expected < 0.9 * math.log(vocab), f"the source model is not trained ({expected:.3f})"
    valid = [m["valid_loss"] for m in read_metrics(workdir / "metrics.jsonl") if m.get("valid_loss") is not None]
    assert len(valid) == 3 and all(abs(v - expected) <= BF16_TOLERANCE * expected for v in valid), (valid, expected)
    train = list(losses(workdir / "metrics.jsonl").values())
    assert len(train) == 3 and all(t < (expected + math.log(vocab)) / 2 for t in train), (train, expected)


@pytest.mark.parametrize("start", ["hf-import", "finetune", "no-load-optim"])
def test_bf16_continued_pretraining_keeps_the_loaded_weights(single_process_group, training_data, source,
                                                             tmp_path, start):
    if start == "hf-import":
        import_from_hf(source["hf"], tmp_path / "imported", tensor_parallel=2, progress=False)
        load, iters = ["--load", tmp_path / "imported"], 3
    elif start == "finetune":
        load, iters = ["--load", source["ckpt"], "--finetune"], 3
    else:  # the iteration count and data position continue; the flags' schedule replaces the checkpoint's
        load, iters = ["--load", source["ckpt"], "--no-load-optim", "--override-opt_param-scheduler"], \
            SOURCE_ITERS + 3
    pretrain(4, args(training_data, tmp_path, *CONTINUE, *load, "--train-iters", iters))
    expected = reference(training_data, source["hf"], iters)
    assert_keeps_the_source(tmp_path, expected, vocab=1024)
