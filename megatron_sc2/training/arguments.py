"""Command line and YAML configuration of a pretraining run.

Flags are Megatron-LM's names where Megatron-LM has the option. `--config run.yaml` gives
the same keys with '_' for '-', plus `stages:`; flags given on the command line override the
file. Every inconsistency is reported here, before any process group or model exists.
"""

from __future__ import annotations

import argparse
import difflib
from dataclasses import dataclass
from pathlib import Path

import yaml

from megatron_sc2.config import ModelConfig, ParallelConfig, load_model_config, read_model_file
from megatron_sc2.data.tokenizer import TOKENIZER_TYPES
from megatron_sc2.training import megatron_lm, value_checks
from megatron_sc2.training.stages import Stage, build_stage

_FLOAT, _INT, _STR, _BOOL = float, int, str, "bool"

# (group, flag, type, default, help). A table, so the YAML schema and the CLI cannot drift.
OPTIONS = [
    ("model", "--model", _STR, None, ("preset (sc2-3b, sc2-7b, sc2-15b, sc2-tiny, ...) or model YAML; "
      "without it, the flags below describe the whole model")),
    ("model", "--num-layers", _INT, None, "transformer layers"),
    ("model", "--hidden-size", _INT, None, "hidden size"),
    ("model", "--ffn-hidden-size", _INT, None, "MLP hidden size (default 4 x hidden size)"),
    ("model", "--num-attention-heads", _INT, None, "attention heads"),
    ("model", "--group-query-attention", _BOOL, False, "grouped-query attention with --num-query-groups"),
    ("model", "--num-query-groups", _INT, None, "KV heads (with --group-query-attention)"),
    ("model", "--max-position-embeddings", _INT, None, ("longest sequence the model is meant for "
      "(default: --seq-length)")),
    ("model", "--rotary-base", _FLOAT, None, "RoPE base (default: the model's; 10000 for a model from flags)"),
    ("model", "--sliding-window", _INT, None, "sliding-window size for a single-stage run (HF convention)"),
    ("model", "--untie-embeddings-and-output-weights", _BOOL, False, "separate input and output embeddings"),
    ("model", "--init-method-std", _FLOAT, None, "weight init standard deviation (default 0.02)"),
    ("model", "--hidden-dropout", _FLOAT, None, ("dropout after attention and MLP (default: the preset's; "
      "0.1 for a model from flags, as Megatron-LM)")),
    ("model", "--attention-dropout", _FLOAT, None, "attention dropout (defaults as --hidden-dropout)"),
    ("model", "--norm-epsilon", _FLOAT, None, "LayerNorm epsilon (default 1e-5)"),
    ("model", "--vocab-size", _INT, None, "embedding rows before padding (default: the tokenizer's size)"),
    ("model", "--make-vocab-size-divisible-by", _INT, None, ("pad the embedding to a multiple of this x TP "
      "(default 128)")),
    ("parallel", "--tensor-model-parallel-size", _INT, 1, "tensor parallel size (divides the KV groups)"),
    ("parallel", "--pipeline-model-parallel-size", _INT, 1, "pipeline parallel size (divides the layers)"),
    ("parallel", "--num-layers-per-virtual-pipeline-stage", _INT, None, "layers per interleaved stage"),
    ("parallel", "--use-distributed-optimizer", _BOOL, False, "shard optimizer state over data parallel"),
    ("parallel", "--sequence-parallel", _BOOL, False, "sequence parallelism (GPU / TransformerEngine only)"),
    ("parallel", "--distributed-timeout-minutes", _FLOAT, 10.0,
     "end the job when a collective or a step waits this long (fractions allowed)"),
    ("parallel", "--recompute-granularity", _STR, None, "activation recompute: selective or full"),
    ("parallel", "--recompute-num-layers", _INT, 1, "layers per recompute unit with --recompute-granularity full"),
    ("batch", "--micro-batch-size", _INT, 1, "sequences per microbatch per data-parallel rank"),
    ("batch", "--global-batch-size", _INT, None, "sequences per optimizer step (single-stage runs)"),
    ("batch", "--seq-length", _INT, None, "tokens per sequence (single-stage runs)"),
    ("batch", "--train-iters", _INT, None, "optimizer steps (single-stage runs; or --train-samples/--train-tokens)"),
    ("batch", "--train-samples", _INT, None, "sequences to train on (single-stage runs)"),
    ("batch", "--train-tokens", _FLOAT, None, "tokens to train on (single-stage runs)"),
    ("data", "--data-path", _STR, None, "Megatron blend: PREFIX or W1 PREFIX1 W2 PREFIX2 ... (nargs)"),
    ("data", "--split", _STR, "969,30,1", "train,valid,test weights"),
    ("data", "--data-cache-path", _STR, None, "where megatron-core keeps its index caches"),
    ("data", "--tokenizer-type", _STR, "HuggingFaceTokenizer", "HuggingFaceTokenizer or SentencePieceTokenizer"),
    ("data", "--tokenizer-model", _STR, None, "tokenizer.json (or its folder) or a sentencepiece model"),
    ("data", "--fim-rate", _FLOAT, 0.5, "probability a sample gets fill-in-the-middle"),
    ("data", "--fim-spm-rate", _FLOAT, 0.5, "share of FIM samples in SPM rather than PSM order"),
    ("data", "--fim-fragment-rate", _FLOAT, 0.5, "per-file FIM probability inside a chosen repository"),
    ("data", "--num-workers", _INT, 2, "data loader worker processes"),
    ("optimizer", "--lr", _FLOAT, 3e-4, "peak learning rate"),
    ("optimizer", "--min-lr", _FLOAT, 3e-5, "learning rate at the end of the decay"),
    ("optimizer", "--lr-warmup-iters", _INT, None, "linear warmup steps (default 0)"),
    ("optimizer", "--lr-warmup-samples", _INT, None, "linear warmup, in sequences"),
    ("optimizer", "--lr-warmup-fraction", _FLOAT, None, "linear warmup, as a fraction of the decay steps"),
    ("optimizer", "--lr-decay-iters", _INT, None, "decay steps (default: the stage's iterations)"),
    ("optimizer", "--lr-decay-samples", _INT, None, "decay, in sequences"),
    ("optimizer", "--lr-decay-style", _STR, "cosine", "cosine, linear or constant"),
    ("optimizer", "--override-opt_param-scheduler", _BOOL, False, ("on resume, the schedule flags replace the "
      "checkpoint's schedule (its step count is kept)")),
    ("optimizer", "--use-checkpoint-opt_param-scheduler", _BOOL, False, ("on resume, keep the checkpoint's "
      "schedule whatever the flags say")),
    ("optimizer", "--weight-decay", _FLOAT, 0.1, "AdamW weight decay"),
    ("optimizer", "--adam-beta1", _FLOAT, 0.9, "AdamW beta1"),
    ("optimizer", "--adam-beta2", _FLOAT, 0.95, "AdamW beta2"),
    ("optimizer", "--adam-eps", _FLOAT, 1e-8, "AdamW epsilon"),
    ("optimizer", "--clip-grad", _FLOAT, 1.0, "gradient norm clipping (0 disables)"),
    ("optimizer", "--bf16", _BOOL, False, "bf16 parameters and compute with fp32 main weights"),
    ("optimizer", "--skip-nan-steps", _BOOL, False, "skip a step whose loss is NaN/Inf instead of stopping"),
    ("checkpoint", "--save", _STR, None, "checkpoint directory to write"),
    ("checkpoint", "--load", _STR, None, ("checkpoint directory to resume from (with --save D --load D, an empty "
      "or missing D starts from scratch)")),
    ("checkpoint", "--load-optim", _BOOL, True, ("--no-load-optim: fresh optimizer state (schedule and data "
      "position still resume)")),
    ("checkpoint", "--load-rng", _BOOL, True, "--no-load-rng: keep this run's random state"),
    ("checkpoint", "--finetune", _BOOL, False, "load the weights only and start at iteration 0"),
    ("checkpoint", "--save-interval", _INT, None, "save every N iterations"),
    ("checkpoint", "--async-save", _BOOL, False, "write checkpoints in the background while training goes on"),
    ("checkpoint", "--exit-duration-in-mins", _FLOAT, None, "save and exit after this wall time"),
    ("checkpoint", "--exit-interval", _INT, None, "save and exit when the iteration is a multiple of N"),
    ("logging", "--log-interval", _INT, 10, "log every N iterations"),
    ("logging", "--eval-interval", _INT, 1000, "validation loss every N iterations"),
    ("logging", "--eval-iters", _INT, 10, "validation batches per evaluation (0: no evaluation)"),
    ("logging", "--metrics-file", _STR, None, "append one JSON object per log line here"),
    ("logging", "--tensorboard-dir", _STR, None, "TensorBoard event directory"),
    ("logging", "--wandb-project", _STR, None, "log to this Weights & Biases project"),
    ("logging", "--wandb-exp-name", _STR, None, "W&B run name"),
    ("logging", "--peak-tflops", _FLOAT, None, "device peak TFLOP/s for MFU (default: from the device table)"),
    ("logging", "--seed", _INT, 1234, "random seed"),
]
GROUP_TITLES = {
    "model": "model", "parallel": "parallel layout", "batch": "batch and length",
    "data": "data and tokenizer", "optimizer": "optimizer and schedule",
    "checkpoint": "checkpointing", "logging": "logging, evaluation and seed",
}
SINGLE_STAGE_KEYS = ("seq_length", "global_batch_size", "train_iters", "train_tokens", "train_samples",
                     "rotary_base", "sliding_window", "lr", "min_lr", "lr_warmup_iters", "lr_warmup_samples",
                     "lr_warmup_fraction", "lr_decay_iters", "lr_decay_samples")
# Architecture flags (dest) -> ModelConfig fields; they override --model's preset when both are given.
# (--rotary-base is a stage setting: the model's base is only the stages' default.)
ARCHITECTURE = {dest: dest for dest in (
    "num_layers", "hidden_size", "ffn_hidden_size", "num_attention_heads", "num_query_groups",
    "max_position_embeddings", "init_method_std", "hidden_dropout", "attention_dropout", "vocab_size",
    "make_vocab_size_divisible_by")} | {"norm_epsilon": "layernorm_epsilon"}
# Megatron-LM's defaults for what a model described by flags alone leaves out (besides an MLP of
# 4 x hidden, one query group with --group-query-attention, else one per head).
FLAG_MODEL_DEFAULTS = {"rotary_base": 10000.0, "hidden_dropout": 0.1, "attention_dropout": 0.1}


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig  # vocab_size becomes the tokenizer's at start unless --vocab-size is set
    parallel: ParallelConfig
    stages: list[Stage]
    options: argparse.Namespace  # every flag's value, by its dest name

    def __getattr__(self, name):
        return getattr(self.options, name)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def _flag(dest: str) -> str:
    return next((flag for _, flag, *_ in OPTIONS if _dest(flag) == dest), "--" + dest.replace("_", "-"))


class _Parser(argparse.ArgumentParser):
    """Errors in one line, without the usage block."""

    def error(self, message):
        raise SystemExit(f"{self.prog}: error: {message} (see --help)")


def build_parser(suppress_defaults: bool = False) -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m megatron_sc2.pretrain",
        description="Pretrain a StarCoder2 model on megatron-core (TP x PP x DP, context-length stages).",
        epilog="Keys of --config YAML are the flag names with '_' for '-', plus 'stages:' (a list of {name, "
        "train_iters|train_tokens|train_samples, seq_length, rotary_base, sliding_window, global_batch_size, lr, "
        "min_lr, lr_warmup_iters|lr_warmup_samples|lr_warmup_fraction, lr_decay_iters|lr_decay_samples}). "
        "Flags given here override the file. Megatron-LM flags without an effect here are accepted; those "
        "with no equivalent are refused with what to use (docs/training.md).",
        argument_default=argparse.SUPPRESS if suppress_defaults else None,
        allow_abbrev=False,
    )
    parser.add_argument("--config", help="run configuration YAML")
    groups = {name: parser.add_argument_group(title) for name, title in GROUP_TITLES.items()}
    for group, flag, kind, default, text in OPTIONS:
        kwargs = {} if suppress_defaults else {"default": default}
        if kind == _BOOL:
            groups[group].add_argument(flag, action=argparse.BooleanOptionalAction, help=text, **kwargs)
        elif flag == "--data-path":
            groups[group].add_argument(flag, nargs="+", help=text, **kwargs)
        else:
            groups[group].add_argument(flag, type=kind, help=text + (f" (default {default})" if default else ""),
                                       **kwargs)
    megatron_lm.add_arguments(parser)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse; an unknown flag is named in one line, with the closest known flag."""
    options, unknown = parser.parse_known_args(argv)
    flags = [a.split("=", 1)[0] for a in unknown if a.startswith("-")]
    if flags:
        known = ["--config", *(flag for _, flag, *_ in OPTIONS)]
        close = difflib.get_close_matches(flags[0], known, n=1)
        raise SystemExit(f"{parser.prog}: error: unknown flag {flags[0]}"
                         + (f" (did you mean {close[0]}?)" if close else " (see --help)"))
    if unknown:
        raise SystemExit(f"{parser.prog}: error: unexpected argument {unknown[0]!r} (see --help)")
    return options


def parse_args(argv: list[str] | None = None, world_size: int | None = None) -> RunConfig:
    parser = build_parser()
    explicit = vars(_parse(build_parser(suppress_defaults=True), argv))
    file_values, stage_specs = {}, None
    if explicit.get("config"):
        file_values = _read_config_file(explicit["config"])
        stage_specs = file_values.pop("stages", None)
    parser.set_defaults(**file_values)
    options = _parse(parser, argv)
    return validate(options, stage_specs, explicit, world_size, given=set(explicit) | set(file_values))


def _read_config_file(path: str) -> dict:
    config_path = Path(path)
    if not config_path.is_file():
        raise SystemExit(f"--config {path}: no such file")
    try:
        values = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SystemExit(f"--config {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise SystemExit(f"--config {path}: expected a mapping of option names")
    refused = [megatron_lm.refusal(f"--{k.replace('_', '-')}") for k in values
               if f"--{k.replace('_', '-')}" in megatron_lm.REFUSED]
    if refused:
        raise SystemExit(f"--config {path}: {refused[0]}")
    known = {_dest(flag) for _, flag, *_ in OPTIONS} | {"stages"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"--config {path}: unknown keys {unknown}")
    if isinstance(values.get("data_path"), str):
        values["data_path"] = values["data_path"].split()
    return values


def _fail(problems: list[str]):
    raise SystemExit("invalid pretraining configuration:\n  - " + "\n  - ".join(problems))


def validate(options, stage_specs, explicit: dict, world_size: int | None, given: set | None = None) -> RunConfig:
    """Every inconsistency, each with what to change, in one error."""
    given = set(explicit) if given is None else given
    problems = megatron_lm.problems(options) + _value_problems(options, stage_specs)
    if problems:
        _fail(problems)
    try:
        model = _model_config(options, given)
    except (ValueError, TypeError, OSError, yaml.YAMLError) as e:
        _fail([str(e)])
    defaults = {k: getattr(options, k) for k in SINGLE_STAGE_KEYS}
    if defaults["rotary_base"] is None:
        defaults["rotary_base"] = model.rotary_base
    stage_overrides = {k: explicit[k] for k in SINGLE_STAGE_KEYS if k in explicit}
    stages = []
    try:
        if stage_specs:
            lengths = {"train_iters", "train_tokens", "train_samples"}
            if lengths & set(stage_overrides):
                problems.append("with 'stages:' in the config, set train_iters/train_tokens/train_samples "
                                "per stage there")
            stages = [build_stage({**spec, **stage_overrides}, defaults, i) for i, spec in enumerate(stage_specs)]
        else:
            stages = [build_stage({}, {**defaults, "name": "main"}, 0)]
    except ValueError as e:
        problems.append(str(e))

    vpp = None
    if options.num_layers_per_virtual_pipeline_stage:
        per_stage = model.num_layers // options.pipeline_model_parallel_size
        if per_stage % options.num_layers_per_virtual_pipeline_stage:
            problems.append(
                f"--num-layers-per-virtual-pipeline-stage {options.num_layers_per_virtual_pipeline_stage} must "
                f"divide the {per_stage} layers of each pipeline stage"
            )
        else:
            vpp = per_stage // options.num_layers_per_virtual_pipeline_stage
    parallel = ParallelConfig(
        tensor_model_parallel_size=options.tensor_model_parallel_size,
        pipeline_model_parallel_size=options.pipeline_model_parallel_size,
        virtual_pipeline_model_parallel_size=vpp,
        use_distributed_optimizer=options.use_distributed_optimizer,
        sequence_parallel=options.sequence_parallel,
    )
    try:
        parallel.validate_for(model)
    except ValueError as e:
        problems.append(str(e))
    dp = None
    if world_size is not None:
        try:
            dp = parallel.data_parallel_size(world_size)
        except ValueError as e:
            problems.append(str(e))
    single = not stage_specs
    for stage in stages:
        problems += _stage_problems(stage, options, model, dp, vpp, single)
    problems += _option_problems(options)
    if len(stages) > 1 and not options.save:
        problems.append("a run with several stages needs --save: each stage boundary goes through a checkpoint")
    if problems:
        _fail(problems)
    return RunConfig(model=model, parallel=parallel, stages=stages, options=options)


def check_machine(run: RunConfig, world_size: int, ranks_here: int) -> None:
    """What this machine cannot run, in one error, before any process group starts. (A recipe
    parses anywhere, so GPU recipes can be checked on a laptop; a launch must fit its machine.)"""
    import psutil
    import torch

    from megatron_sc2.model.layer_spec import transformer_engine_available
    from megatron_sc2.model.transformer_config import SEQUENCE_PARALLEL_NEEDS_TE
    from megatron_sc2.training.memory import GIB, estimate_memory

    problems = []
    if run.parallel.sequence_parallel and not transformer_engine_available():
        problems.append(SEQUENCE_PARALLEL_NEEDS_TE)
    if not torch.cuda.is_available():
        per_rank = max(estimate_memory(
            run.model, seq_length=stage.seq_length, tp=run.parallel.tensor_model_parallel_size,
            pp=run.parallel.pipeline_model_parallel_size, dp=run.parallel.data_parallel_size(world_size),
            micro_batch_size=run.micro_batch_size, distributed_optimizer=run.parallel.use_distributed_optimizer,
        ).total_gib for stage in run.stages)
        machine = psutil.virtual_memory().total / GIB
        if per_rank * ranks_here > machine:
            problems.append(f"this run needs an estimated {per_rank * ranks_here:.1f} GiB ({ranks_here} rank(s) x "
                            f"{per_rank:.1f} GiB, training/memory.py) and this machine has {machine:.1f} GiB: "
                            f"choose a smaller --model, --seq-length or --micro-batch-size")
    if problems:
        _fail(problems)


def _value_problems(options, stage_specs) -> list[str]:
    """Each numeric value in its range, each named as given: a flag, or a key of a stage."""
    problems = value_checks.out_of_range(vars(options), _flag)
    for index, spec in enumerate(stage_specs or []):
        if not isinstance(spec, dict):
            problems.append(f"stages[{index}] must be a mapping of stage keys")
            continue
        name = spec.get("name") or f"stage{index}"
        problems += value_checks.out_of_range(spec, lambda key, name=name: f"stage {name}: {key}")
    split = value_checks.split_problem(str(options.split))
    return problems + ([split] if split else []) + value_checks.blend_problems(options.data_path or [])


def _model_config(options, given: set) -> ModelConfig:
    """--model's preset (or file) with the architecture flags over it; without --model, the flags alone."""
    flags = {field: getattr(options, dest) for dest, field in ARCHITECTURE.items()
             if getattr(options, dest) is not None}
    if options.untie_embeddings_and_output_weights:
        flags["tie_embeddings"] = False
    if "model" in given:
        base = load_model_config(options.model)
        if options.vocab_size is None and Path(options.model).is_file() and \
                "vocab_size" in read_model_file(options.model):
            options.vocab_size = base.vocab_size  # a model file that sets the vocabulary keeps it
        return base.replace(**flags)
    missing = [f for f in ("--num-layers", "--hidden-size", "--num-attention-heads") if _dest(f) not in flags]
    if missing:
        raise ValueError("describe the model with --model PRESET (sc2-3b, sc2-7b, sc2-15b, sc2-tiny, ...) or a "
                         "model YAML, or with --num-layers, --hidden-size and --num-attention-heads"
                         + (f" (missing {', '.join(missing)})" if len(missing) < 3 else ""))
    if options.num_query_groups is not None and not options.group_query_attention:
        raise ValueError("--num-query-groups takes effect only with --group-query-attention (as in Megatron-LM)")
    return ModelConfig(**{
        **FLAG_MODEL_DEFAULTS,
        "ffn_hidden_size": 4 * flags["hidden_size"],
        "num_query_groups": 1 if options.group_query_attention else flags["num_attention_heads"],
        "max_position_embeddings": options.seq_length or ModelConfig.max_position_embeddings,
        "rotary_base": options.rotary_base or FLAG_MODEL_DEFAULTS["rotary_base"],
        **flags,
    })


def _option_problems(options) -> list[str]:
    problems = []
    if options.recompute_granularity not in (None, "selective", "full"):
        problems.append("--recompute-granularity must be 'selective' or 'full'")
    if options.lr_decay_style not in ("cosine", "linear", "constant"):
        problems.append("--lr-decay-style must be cosine, linear or constant")
    if options.tokenizer_type not in TOKENIZER_TYPES:
        problems.append(f"Megatron-LM's --tokenizer-type {options.tokenizer_type} is not supported here: use "
                        f"{' or '.join(TOKENIZER_TYPES)} (a tokenizer.json or a sentencepiece model)")
    if not options.data_path:
        problems.append("--data-path is required: a preprocessed prefix (tools/preprocess_data.py output)")
    if not options.tokenizer_model:
        problems.append("--tokenizer-model is required (tokenizer.json, its folder, or a sentencepiece model)")
    elif not Path(options.tokenizer_model).exists():
        problems.append(f"--tokenizer-model {options.tokenizer_model}: no such file or folder")
    if options.save_interval and not options.save:
        problems.append("--save-interval needs --save")
    if options.load and not Path(options.load).is_dir() and not same_directory(options.load, options.save):
        problems.append(f"--load {options.load}: no such checkpoint directory")
    if options.sequence_parallel and options.tensor_model_parallel_size == 1:
        problems.append("--sequence-parallel needs --tensor-model-parallel-size > 1")
    if options.override_opt_param_scheduler and options.use_checkpoint_opt_param_scheduler:
        problems.append("give one of --override-opt_param-scheduler and --use-checkpoint-opt_param-scheduler")
    return problems


def same_directory(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and Path(a).resolve() == Path(b).resolve()


def _stage_problems(stage: Stage, options, model: ModelConfig, dp: int | None, vpp: int | None,
                    single: bool) -> list[str]:
    problems = []
    where = "" if single else f"stage {stage.name}: "

    def name(key):
        return _flag(key) if single else key

    if stage.train_iters < 1:
        problems.append(f"{where}{name('train_iters')} must give at least 1 iteration")
    if stage.min_lr > stage.lr:
        problems.append(f"{where}{name('min_lr')} {stage.min_lr} is above {name('lr')} {stage.lr}")
    if stage.lr_warmup_iters >= stage.lr_decay_iters:
        problems.append(f"{where}the {stage.lr_warmup_iters} warmup iterations must be fewer than the "
                        f"{stage.lr_decay_iters} decay iterations (set {name('lr_warmup_iters')} or "
                        f"{name('lr_decay_iters')})")
    if stage.seq_length > model.max_position_embeddings:
        problems.append(f"{where}{name('seq_length')} {stage.seq_length} exceeds the model's "
                        f"max_position_embeddings {model.max_position_embeddings}")
    if stage.sliding_window is not None and stage.sliding_window > stage.seq_length:
        problems.append(f"{where}{name('sliding_window')} {stage.sliding_window} exceeds seq_length "
                        f"{stage.seq_length}")
    if dp is not None:
        per_step = options.micro_batch_size * dp
        if stage.global_batch_size % per_step:
            problems.append(
                f"{where}global batch {stage.global_batch_size} is not a multiple of micro batch "
                f"{options.micro_batch_size} x data parallel {dp} = {per_step}"
            )
        elif vpp and (stage.global_batch_size // per_step) % options.pipeline_model_parallel_size:
            problems.append(
                f"{where}interleaved pipelining needs the {stage.global_batch_size // per_step} microbatches "
                f"to be a multiple of --pipeline-model-parallel-size {options.pipeline_model_parallel_size}"
            )
    return problems
