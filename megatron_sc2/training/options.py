"""Every option of a pretraining run, declared once: a typed field of its section.

A field's metadata carries its flag (Megatron-LM's name where Megatron-LM has the option), its
help, its range and whether a stage of `--config` may set it; argparse, the YAML schema, the
range checks, the stage keys and `--help` are all derived from these fields (arguments.py).
The field name is the flag's dest and the YAML key.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import ClassVar

from megatron_sc2.training.value_checks import FRACTION, PROBABILITY, at_least, positive


def option(flag: str, help: str, default=None, *, range=None, stage: bool | str = False, schedule=()):
    """A field declared with its flag. `range`: a value_checks rule. `stage`: a stage may set it
    (a string names the group of which a stage gives one: 'length', 'warmup', 'decay').
    `schedule`: the LR scheduler's state_dict keys it sets (schedule.py names them on a resume)."""
    return field(default=default, metadata={"flag": flag, "help": help, "range": range, "stage": stage,
                                            "schedule": schedule})


@dataclass(frozen=True)
class ModelOptions:
    title: ClassVar[str] = "model"
    model: str | None = option("--model", (
        "preset (sc2-3b, sc2-7b, sc2-15b, sc2-tiny, ...) or model YAML; without it, the flags below describe the "
        "whole model"))
    num_layers: int | None = option("--num-layers", "transformer layers", range=at_least(1))
    hidden_size: int | None = option("--hidden-size", "hidden size", range=at_least(1))
    ffn_hidden_size: int | None = option("--ffn-hidden-size", "MLP hidden size (default 4 x hidden size)",
                                         range=at_least(1))
    num_attention_heads: int | None = option("--num-attention-heads", "attention heads", range=at_least(1))
    group_query_attention: bool = option("--group-query-attention", "grouped-query attention with --num-query-groups",
                                         False)
    num_query_groups: int | None = option("--num-query-groups", "KV heads (with --group-query-attention)",
                                          range=at_least(1))
    max_position_embeddings: int | None = option("--max-position-embeddings", (
        "longest sequence the model is meant for (default: --seq-length)"), range=at_least(1))
    rotary_base: float | None = option("--rotary-base", "RoPE base (default: the model's; 10000 for a model from "
                                       "flags)", range=positive(), stage=True)
    sliding_window: int | None = option("--sliding-window", "sliding-window size for a single-stage run (HF "
                                        "convention)", range=at_least(0), stage=True)
    untie_embeddings_and_output_weights: bool = option("--untie-embeddings-and-output-weights",
                                                       "separate input and output embeddings", False)
    init_method_std: float | None = option("--init-method-std", "weight init standard deviation (default 0.02)",
                                           range=positive())
    hidden_dropout: float | None = option("--hidden-dropout", (
        "dropout after attention and MLP (default: the preset's; 0.1 for a model from flags, as Megatron-LM)"),
        range=FRACTION)
    attention_dropout: float | None = option("--attention-dropout", "attention dropout (defaults as "
                                             "--hidden-dropout)", range=FRACTION)
    norm_epsilon: float | None = option("--norm-epsilon", "LayerNorm epsilon (default 1e-5)", range=positive())
    vocab_size: int | None = option("--vocab-size", "embedding rows before padding (default: the tokenizer's "
                                    "size)", range=at_least(1))
    make_vocab_size_divisible_by: int | None = option("--make-vocab-size-divisible-by", (
        "pad the embedding to a multiple of this x TP (default 128)"), range=at_least(1))


@dataclass(frozen=True)
class ParallelOptions:
    title: ClassVar[str] = "parallel layout"
    tensor_model_parallel_size: int = option("--tensor-model-parallel-size", "tensor parallel size (divides the KV "
                                             "groups)", 1, range=at_least(1))
    pipeline_model_parallel_size: int = option("--pipeline-model-parallel-size", "pipeline parallel size (divides "
                                               "the layers)", 1, range=at_least(1))
    num_layers_per_virtual_pipeline_stage: int | None = option("--num-layers-per-virtual-pipeline-stage",
                                                               "layers per interleaved stage", range=at_least(1))
    use_distributed_optimizer: bool = option("--use-distributed-optimizer", "shard optimizer state over data "
                                             "parallel", False)
    sequence_parallel: bool = option("--sequence-parallel", "sequence parallelism (GPU / TransformerEngine only)",
                                     False)
    distributed_timeout_minutes: float = option("--distributed-timeout-minutes", (
        "end the job when a collective or a step waits this long (fractions allowed)"), 10.0, range=positive())
    recompute_granularity: str | None = option("--recompute-granularity", "activation recompute: selective or "
                                               "full")
    recompute_num_layers: int = option("--recompute-num-layers", "layers per recompute unit with "
                                       "--recompute-granularity full", 1, range=at_least(1))


@dataclass(frozen=True)
class BatchOptions:
    title: ClassVar[str] = "batch and length"
    micro_batch_size: int = option("--micro-batch-size", "sequences per microbatch per data-parallel rank", 1,
                                   range=at_least(1))
    global_batch_size: int | None = option("--global-batch-size", "sequences per optimizer step (single-stage runs)",
                                           range=at_least(1), stage=True)
    seq_length: int | None = option("--seq-length", "tokens per sequence (single-stage runs)", range=at_least(1),
                                    stage=True)
    train_iters: int | None = option("--train-iters", "optimizer steps (single-stage runs; or "
                                     "--train-samples/--train-tokens)", range=at_least(1), stage="length")
    train_samples: int | None = option("--train-samples", "sequences to train on (single-stage runs)",
                                       range=at_least(1), stage="length")
    train_tokens: float | None = option("--train-tokens", "tokens to train on (single-stage runs)", range=positive(),
                                        stage="length")


@dataclass(frozen=True)
class DataOptions:
    title: ClassVar[str] = "data and tokenizer"
    data_path: tuple[str, ...] | None = option("--data-path", "Megatron blend: PREFIX or W1 PREFIX1 W2 PREFIX2 ... "
                                               "(nargs)")
    split: str = option("--split", "train,valid,test weights", "969,30,1")
    data_cache_path: str | None = option("--data-cache-path", "where megatron-core keeps its index caches")
    tokenizer_type: str = option("--tokenizer-type", "HuggingFaceTokenizer or SentencePieceTokenizer",
                                 "HuggingFaceTokenizer")
    tokenizer_model: str | None = option("--tokenizer-model", "tokenizer.json (or its folder) or a sentencepiece "
                                         "model")
    fim_rate: float = option("--fim-rate", "probability a sample gets fill-in-the-middle", 0.5, range=PROBABILITY)
    fim_spm_rate: float = option("--fim-spm-rate", "share of FIM samples in SPM rather than PSM order", 0.5,
                                 range=PROBABILITY)
    fim_fragment_rate: float = option("--fim-fragment-rate", "per-file FIM probability inside a chosen repository",
                                      0.5, range=PROBABILITY)
    num_workers: int = option("--num-workers", "data loader worker processes", 2, range=at_least(0))


@dataclass(frozen=True)
class OptimizerOptions:
    title: ClassVar[str] = "optimizer and schedule"
    lr: float = option("--lr", "peak learning rate", 3e-4, range=at_least(0), stage=True, schedule=("max_lr",))
    min_lr: float = option("--min-lr", "learning rate at the end of the decay", 3e-5, range=at_least(0), stage=True,
                           schedule=("min_lr",))
    lr_warmup_iters: int | None = option("--lr-warmup-iters", "linear warmup steps (default 0)", range=at_least(0),
                                         stage="warmup", schedule=("lr_warmup_steps",))
    lr_warmup_samples: int | None = option("--lr-warmup-samples", "linear warmup, in sequences", range=at_least(0),
                                           stage="warmup")
    lr_warmup_fraction: float | None = option("--lr-warmup-fraction", "linear warmup, as a fraction of the decay "
                                              "steps", range=FRACTION, stage="warmup")
    lr_decay_iters: int | None = option("--lr-decay-iters", "decay steps (default: the stage's iterations)",
                                        range=at_least(1), stage="decay", schedule=("lr_decay_steps",))
    lr_decay_samples: int | None = option("--lr-decay-samples", "decay, in sequences", range=at_least(1),
                                          stage="decay")
    lr_decay_style: str = option("--lr-decay-style", "cosine, linear or constant", "cosine",
                                 schedule=("lr_decay_style",))
    override_opt_param_scheduler: bool = option("--override-opt_param-scheduler", (
        "on resume, the schedule flags replace the checkpoint's schedule (its step count is kept)"), False)
    use_checkpoint_opt_param_scheduler: bool = option("--use-checkpoint-opt_param-scheduler", (
        "on resume, keep the checkpoint's schedule whatever the flags say"), False)
    weight_decay: float = option("--weight-decay", "AdamW weight decay", 0.1, range=at_least(0),
                                 schedule=("start_wd", "end_wd"))
    adam_beta1: float = option("--adam-beta1", "AdamW beta1", 0.9, range=FRACTION)
    adam_beta2: float = option("--adam-beta2", "AdamW beta2", 0.95, range=FRACTION)
    adam_eps: float = option("--adam-eps", "AdamW epsilon", 1e-8, range=positive())
    clip_grad: float = option("--clip-grad", "gradient norm clipping (0 disables)", 1.0, range=at_least(0))
    bf16: bool = option("--bf16", "bf16 parameters and compute with fp32 main weights", False)
    skip_nan_steps: bool = option("--skip-nan-steps", "skip a step whose loss is NaN/Inf instead of stopping", False)


@dataclass(frozen=True)
class CheckpointOptions:
    title: ClassVar[str] = "checkpointing"
    save: str | None = option("--save", "checkpoint directory to write")
    load: str | None = option("--load", ("checkpoint directory to resume from (with --save D --load D, an empty or "
                                         "missing D starts from scratch)"))
    load_optim: bool = option("--load-optim", ("--no-load-optim: fresh optimizer state (schedule and data position "
                                               "still resume)"), True)
    load_rng: bool = option("--load-rng", "--no-load-rng: keep this run's random state", True)
    finetune: bool = option("--finetune", "load the weights only and start at iteration 0", False)
    save_interval: int | None = option("--save-interval", "save every N iterations", range=at_least(1))
    async_save: bool = option("--async-save", "write checkpoints in the background while training goes on", False)
    exit_duration_in_mins: float | None = option("--exit-duration-in-mins", "save and exit after this wall time",
                                                 range=positive())
    exit_interval: int | None = option("--exit-interval", "save and exit when the iteration is a multiple of N",
                                       range=at_least(1))


@dataclass(frozen=True)
class LoggingOptions:
    title: ClassVar[str] = "logging, evaluation and seed"
    log_interval: int = option("--log-interval", "log every N iterations", 10, range=at_least(1))
    eval_interval: int = option("--eval-interval", "validation loss every N iterations", 1000, range=at_least(1))
    eval_iters: int = option("--eval-iters", "validation batches per evaluation (0: no evaluation)", 10,
                             range=at_least(0))
    metrics_file: str | None = option("--metrics-file", "append one JSON object per log line here")
    tensorboard_dir: str | None = option("--tensorboard-dir", "TensorBoard event directory")
    wandb_project: str | None = option("--wandb-project", "log to this Weights & Biases project")
    wandb_exp_name: str | None = option("--wandb-exp-name", "W&B run name")
    peak_tflops: float | None = option("--peak-tflops", "device peak TFLOP/s for MFU (default: from the device "
                                       "table)", range=positive())
    seed: int = option("--seed", "random seed", 1234, range=at_least(0))


SECTIONS = (ModelOptions, ParallelOptions, BatchOptions, DataOptions, OptimizerOptions, CheckpointOptions,
            LoggingOptions)


@dataclass(frozen=True)
class Option:
    """One field of a section, with what its metadata and annotation say."""

    section: type
    name: str  # the flag's dest and the YAML key
    flag: str
    help: str
    default: object
    kind: type  # bool, int, float, str; tuple for a list of values (nargs)
    range: tuple | None
    stage: bool | str
    schedule: tuple[str, ...]


def _kind(annotation) -> type:
    """`int | None` -> int, `tuple[str, ...] | None` -> tuple."""
    types = [t for t in typing.get_args(annotation) or (annotation,) if t is not type(None)]
    return typing.get_origin(types[0]) or types[0]


OPTIONS = tuple(
    Option(section, f.name, f.metadata["flag"], f.metadata["help"], f.default,
           _kind(typing.get_type_hints(section)[f.name]), f.metadata["range"], f.metadata["stage"],
           f.metadata["schedule"])
    for section in SECTIONS for f in dataclasses.fields(section))
BY_NAME = {o.name: o for o in OPTIONS}
RANGES = {o.name: (*o.range, o.kind is int) for o in OPTIONS if o.range}  # for value_checks.out_of_range


def section_values(section: type, values: dict):
    """The section holding its options' entries of `values` (a list of values as a tuple)."""
    return section(**{f.name: tuple(values[f.name]) if isinstance(values[f.name], list) else values[f.name]
                      for f in dataclasses.fields(section)})

