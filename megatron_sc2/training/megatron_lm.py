"""Megatron-LM's flags that a launch script may carry and that this trainer has no option of its own for.

Each one is in exactly one table: accepted because it changes nothing here, accepted with the
values that match what this trainer does, or refused with one line saying what to use. A flag
in none of them is unknown, and named as such. Flags this trainer shares with Megatron-LM are
its own options (`options.py`), not listed here.
"""

from __future__ import annotations

import argparse

BF16 = "StarCoder2 trains in bf16: use --bf16"
GELU = "StarCoder2's MLP is a GELU (tanh) MLP: drop the flag"
DENSE = "StarCoder2 is a dense model (no experts)"
HF_TOKENIZER = "give --tokenizer-model a Hugging Face tokenizer.json (or a SentencePiece model)"

# flag: what makes it unnecessary here.
ACCEPTED = {
    "--use-mcore-models": "the model is always megatron-core's GPTModel",
    "--exit-signal-handler": "SIGTERM and SIGUSR1 always save (with --save) and exit",
    "--use-flash-attn": "TransformerEngine chooses flash or fused attention on GPUs",
    "--attention-softmax-in-fp32": "always on",
    "--add-qkv-bias": "StarCoder2 always has QKV biases",
    "--use-rotary-position-embeddings": "StarCoder2 always uses RoPE",
    "--no-position-embedding": "RoPE replaces learned position embeddings",
    "--overlap-grad-reduce": "on whenever a GPU is used",
    "--overlap-param-gather": "on with --use-distributed-optimizer on GPUs",
    "--no-masked-softmax-fusion": "fusions follow the device (fused on GPUs)",
    "--no-bias-gelu-fusion": "fusions follow the device (fused on GPUs)",
    "--no-bias-dropout-fusion": "fusions follow the device (fused on GPUs)",
    "--no-rope-fusion": "fusions follow the device (fused on GPUs)",
    "--no-gradient-accumulation-fusion": "gradient accumulation fusion is never used",
    "--no-create-attention-mask-in-dataloader": "no attention mask is ever built (the kernels apply it)",
    "--num-dataset-builder-threads": "megatron-core's default is used",
    "--log-throughput": "throughput is always logged",
    "--timing-log-level": "iteration time is always logged",
    "--log-timers-to-tensorboard": "iteration time is always logged",
    "--log-validation-ppl-to-tensorboard": "validation perplexity is always logged",
    "--log-memory-to-tensorboard": "peak memory is always logged",
    "--calculate-per-token-loss": "the loss is always a token mean over the global batch",
    "--accumulate-allreduce-grads-in-fp32": "gradients are always reduced in fp32",
    "--check-for-nan-in-loss-and-grad": "a NaN/Inf loss always stops the run (or is skipped with --skip-nan-steps)",
    "--use-cpu-initialization": "initialization follows the device (on the CPU when there is no GPU)",
    "--apply-query-key-layer-scaling": "an --fp16 safeguard: the softmax always runs in fp32, where the scaling "
                                       "cancels out",
    "--cross-entropy-loss-fusion": "the loss is megatron-core's vocab-parallel cross entropy, unfused: the same "
                                   "loss",
    "--manual-gc": "Python's garbage collector runs as usual: the same training, only the timing of pauses "
                   "differs",
    "--manual-gc-interval": "Python's garbage collector runs as usual (see --manual-gc)",
}

# flag: the values that describe what this trainer does anyway.
CHOICES = {
    "--ckpt-format": ("torch_dist",),
    "--transformer-impl": ("transformer_engine", "local"),  # the layer spec follows the device
    "--position-embedding-type": ("rope",),
    "--normalization": ("LayerNorm",),
    "--optimizer": ("adam",),
    "--dataloader-type": ("single",),
    "--distributed-backend": ("nccl", "gloo"),  # the backend follows the device
    "--recompute-method": ("uniform",),
    "--rotary-percent": ("1.0",),
    "--attention-backend": ("auto",),  # TransformerEngine chooses flash or fused attention
    "--DDP-impl": ("local",),  # megatron-core's DistributedDataParallel (Megatron-LM's "local")
}

# flag: what to use instead.
REFUSED = {
    "--fp16": BF16,
    "--loss-scale": f"loss scaling is for --fp16; {BF16}, which needs none",
    "--initial-loss-scale": f"loss scaling is for --fp16; {BF16}, which needs none",
    "--min-loss-scale": f"loss scaling is for --fp16; {BF16}, which needs none",
    "--loss-scale-window": f"loss scaling is for --fp16; {BF16}, which needs none",
    "--hysteresis": f"loss scaling is for --fp16; {BF16}, which needs none",
    "--fp8-format": f"FP8 training is not available; {BF16}",
    "--fp8-recipe": f"FP8 training is not available; {BF16}",
    "--swiglu": GELU,
    "--squared-relu": GELU,
    "--openai-gelu": GELU,
    "--quick-geglu": GELU,
    "--disable-bias-linear": "StarCoder2 has biases in every linear layer: drop the flag",
    "--apply-layernorm-1p": "StarCoder2 uses plain LayerNorm: drop the flag",
    "--qk-layernorm": "StarCoder2 has no QK LayerNorm: drop the flag",
    "--kv-channels": "it is always --hidden-size / --num-attention-heads",
    "--encoder-num-layers": "use --num-layers",
    "--decoder-num-layers": "use --num-layers",
    "--encoder-seq-length": "use --seq-length",
    "--window-size": "use --sliding-window W (Hugging Face's convention: a token sees itself and W-1 before it)",
    "--num-experts": DENSE,
    "--expert-model-parallel-size": DENSE,
    "--moe-router-topk": DENSE,
    "--context-parallel-size": "context parallelism is not available: use --tensor-model-parallel-size "
                               "with --sequence-parallel for long sequences",
    "--num-virtual-stages-per-pipeline-rank": "use --num-layers-per-virtual-pipeline-stage",
    "--use-torch-fsdp2": "use --use-distributed-optimizer",
    "--use-megatron-fsdp": "use --use-distributed-optimizer",
    "--vocab-file": HF_TOKENIZER,
    "--merge-file": HF_TOKENIZER,
    "--train-data-path": "use --data-path with --split",
    "--valid-data-path": "use --data-path with --split",
    "--test-data-path": "use --data-path with --split",
    "--data-args-path": "use --data-path",
    "--per-split-data-args-path": "use --data-path with --split",
    "--mock-data": "use --data-path with a prefix from tools/preprocess_data.py (tools/make_stdlib_corpus.py "
                   "writes a small real corpus)",
    "--reset-position-ids": "StarCoder2 trains packed sequences without per-document positions",
    "--reset-attention-mask": "StarCoder2 trains packed sequences without per-document masks",
    "--eod-mask-loss": "the EOD token is trained on, as in StarCoder2",
    "--rampup-batch-size": "batch size ramp-up is not available: give each stage of --config its own "
                           "global_batch_size",
    "--decoupled-lr": "one learning rate for all parameters: use --lr",
    "--decoupled-min-lr": "one learning rate for all parameters: use --min-lr",
    "--start-weight-decay": "weight decay is constant: use --weight-decay",
    "--end-weight-decay": "weight decay is constant: use --weight-decay",
    "--weight-decay-incr-style": "weight decay is constant: use --weight-decay",
    "--lr-wsd-decay-style": "use --lr-decay-style cosine, linear or constant",
    "--lr-wsd-decay-iters": "use --lr-decay-style cosine, linear or constant",
    "--lr-wsd-decay-samples": "use --lr-decay-style cosine, linear or constant",
    "--sgd-momentum": "AdamW is the only optimizer",
    "--no-save-optim": "checkpoints always hold the optimizer (they resume exactly): use "
                       "tools/convert_checkpoint.py export for weights only",
    "--no-save-rng": "checkpoints always hold the RNG states (they resume exactly)",
    "--pretrained-checkpoint": "use --load with --finetune",
    "--non-persistent-save-interval": "use --save-interval",
    "--non-persistent-ckpt-type": "use --save-interval",
    "--ckpt-convert-format": "use tools/convert_checkpoint.py",
    "--use-legacy-models": "the model is always megatron-core's GPTModel",
    "--tensorboard-log-interval": "TensorBoard gets every --log-interval line",
    "--use-checkpoint-args": "the model comes from --model or the architecture flags (a checkpoint of another "
                             "model is refused, naming the differences)",
    "--tp-comm-overlap": "tensor-parallel communication overlap is not available: drop the flag",
    "--log-params-norm": "the parameter norm is not logged: drop the flag (grad_norm is logged every "
                         "--log-interval)",
}
DEST_PREFIX = "megatron_lm__"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register every flag of the three tables, hidden from --help; each collects its values."""
    for flag in (*ACCEPTED, *CHOICES, *REFUSED):
        parser.add_argument(flag, nargs="*", dest=DEST_PREFIX + flag, help=argparse.SUPPRESS)


def problems(options: argparse.Namespace) -> list[str]:
    """One line per refused flag, or per value that would make this trainer differ from Megatron-LM."""
    found = []
    for dest, values in vars(options).items():
        if not dest.startswith(DEST_PREFIX) or values is None:
            continue
        flag = dest[len(DEST_PREFIX):]
        if flag in REFUSED:
            found.append(refusal(flag))
        elif flag in CHOICES and not _accepted_value(values, CHOICES[flag]):
            found.append(f"Megatron-LM's {flag} {' '.join(values)} is not supported here: "
                         f"only {' or '.join(CHOICES[flag])}")
    return found


def refusal(flag: str) -> str:
    return f"Megatron-LM's {flag} is not supported here: {REFUSED[flag]}"


def _accepted_value(values: list[str], allowed: tuple[str, ...]) -> bool:
    if len(values) != 1:
        return False
    try:
        return any(float(values[0]) == float(a) for a in allowed)
    except ValueError:
        return values[0] in allowed
