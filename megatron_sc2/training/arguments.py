"""Command line and YAML configuration of a pretraining run.

Flags are Megatron-LM's names where Megatron-LM has the option. `--config run.yaml` gives
the same keys with '_' for '-', plus `stages:`; flags given on the command line override the
file. Every inconsistency is reported here, before any process group or model exists.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import yaml

from megatron_sc2.config import ModelConfig, ParallelConfig, load_model_config
from megatron_sc2.training.stages import Stage, build_stage

_FLOAT, _INT, _STR, _BOOL = float, int, str, "bool"

# (group, flag, type, default, help). A table, so the YAML schema and the CLI cannot drift.
OPTIONS = [
    ("model", "--model", _STR, "sc2-3b", "model preset (sc2-3b, sc2-7b, sc2-15b, sc2-tiny, ...) or a model YAML"),
    ("model", "--rotary-base", _FLOAT, None, "RoPE base for a single-stage run (default: the model's)"),
    ("model", "--sliding-window", _INT, None, "sliding-window size for a single-stage run (HF convention)"),
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
    ("batch", "--train-iters", _INT, None, "optimizer steps (single-stage runs; or --train-tokens)"),
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
    ("optimizer", "--lr-warmup-iters", _INT, 1000, "linear warmup steps"),
    ("optimizer", "--lr-decay-style", _STR, "cosine", "cosine, linear or constant"),
    ("optimizer", "--weight-decay", _FLOAT, 0.1, "AdamW weight decay"),
    ("optimizer", "--adam-beta1", _FLOAT, 0.9, "AdamW beta1"),
    ("optimizer", "--adam-beta2", _FLOAT, 0.95, "AdamW beta2"),
    ("optimizer", "--adam-eps", _FLOAT, 1e-8, "AdamW epsilon"),
    ("optimizer", "--clip-grad", _FLOAT, 1.0, "gradient norm clipping (0 disables)"),
    ("optimizer", "--bf16", _BOOL, False, "bf16 parameters and compute with fp32 main weights"),
    ("optimizer", "--skip-nan-steps", _BOOL, False, "skip a step whose loss is NaN/Inf instead of stopping"),
    ("checkpoint", "--save", _STR, None, "checkpoint directory to write"),
    ("checkpoint", "--load", _STR, None, "checkpoint directory to resume from"),
    ("checkpoint", "--save-interval", _INT, None, "save every N iterations"),
    ("checkpoint", "--async-save", _BOOL, False, "write checkpoints in the background while training goes on"),
    ("checkpoint", "--exit-duration-in-mins", _FLOAT, None, "save and exit after this wall time"),
    ("checkpoint", "--exit-interval", _INT, None, "save and exit at this iteration"),
    ("logging", "--log-interval", _INT, 10, "log every N iterations"),
    ("logging", "--eval-interval", _INT, 1000, "validation loss every N iterations"),
    ("logging", "--eval-iters", _INT, 10, "validation batches per evaluation"),
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
SINGLE_STAGE_KEYS = ("seq_length", "global_batch_size", "train_iters", "train_tokens", "rotary_base",
                     "sliding_window", "lr", "min_lr", "lr_warmup_iters")


@dataclass(frozen=True)
class RunConfig:
    model: ModelConfig
    parallel: ParallelConfig
    stages: list[Stage]
    options: argparse.Namespace  # every flag's value, by its dest name

    def __getattr__(self, name):
        return getattr(self.options, name)


def _dest(flag: str) -> str:
    return flag.lstrip("-").replace("-", "_")


def build_parser(suppress_defaults: bool = False) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m megatron_sc2.pretrain",
        description="Pretrain a StarCoder2 model on megatron-core (TP x PP x DP, context-length stages).",
        epilog="Keys of --config YAML are the flag names with '_' for '-', plus 'stages:' (a list of "
        "{name, train_iters|train_tokens, seq_length, rotary_base, sliding_window, global_batch_size, lr, "
        "min_lr, lr_warmup_iters}). Flags given here override the file.",
        argument_default=argparse.SUPPRESS if suppress_defaults else None,
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
    return parser


def parse_args(argv: list[str] | None = None, world_size: int | None = None) -> RunConfig:
    parser = build_parser()
    explicit = vars(build_parser(suppress_defaults=True).parse_args(argv))
    file_values, stage_specs = {}, None
    if explicit.get("config"):
        file_values = _read_config_file(explicit["config"])
        stage_specs = file_values.pop("stages", None)
    parser.set_defaults(**file_values)
    options = parser.parse_args(argv)
    return validate(options, stage_specs, explicit, world_size)


def _read_config_file(path: str) -> dict:
    config_path = Path(path)
    if not config_path.is_file():
        raise SystemExit(f"--config {path}: no such file")
    values = yaml.safe_load(config_path.read_text()) or {}
    if not isinstance(values, dict):
        raise SystemExit(f"--config {path}: expected a mapping of option names")
    known = {_dest(flag) for _, flag, *_ in OPTIONS} | {"stages"}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SystemExit(f"--config {path}: unknown keys {unknown}")
    if isinstance(values.get("data_path"), str):
        values["data_path"] = values["data_path"].split()
    return values


def validate(options, stage_specs, explicit: dict, world_size: int | None) -> RunConfig:
    """Every inconsistency, each with what to change, in one error."""
    problems = []
    try:
        model = load_model_config(options.model)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    defaults = {k: getattr(options, k) for k in SINGLE_STAGE_KEYS}
    if defaults["rotary_base"] is None:
        defaults["rotary_base"] = model.rotary_base
    stage_overrides = {k: explicit[k] for k in SINGLE_STAGE_KEYS if k in explicit}
    stages = []
    try:
        if stage_specs:
            if {"train_iters", "train_tokens"} & set(stage_overrides):
                problems.append("with 'stages:' in the config, set train_iters/train_tokens per stage there")
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
    for stage in stages:
        problems += _stage_problems(stage, options, model, dp, vpp)
    if options.recompute_granularity not in (None, "selective", "full"):
        problems.append("--recompute-granularity must be 'selective' or 'full'")
    if options.lr_decay_style not in ("cosine", "linear", "constant"):
        problems.append("--lr-decay-style must be cosine, linear or constant")
    if not options.data_path:
        problems.append("--data-path is required: a preprocessed prefix (tools/preprocess_data.py output)")
    if not options.tokenizer_model:
        problems.append("--tokenizer-model is required (tokenizer.json, its folder, or a sentencepiece model)")
    elif not Path(options.tokenizer_model).exists():
        problems.append(f"--tokenizer-model {options.tokenizer_model}: no such file or folder")
    if len(stages) > 1 and not options.save:
        problems.append("a run with several stages needs --save: each stage boundary goes through a checkpoint")
    if options.save_interval and not options.save:
        problems.append("--save-interval needs --save")
    if options.load and not Path(options.load).is_dir():
        problems.append(f"--load {options.load}: no such checkpoint directory")
    if not options.distributed_timeout_minutes > 0:
        problems.append("--distributed-timeout-minutes must be > 0 (fractions such as 0.5 are allowed)")
    if options.sequence_parallel and options.tensor_model_parallel_size == 1:
        problems.append("--sequence-parallel needs --tensor-model-parallel-size > 1")
    if problems:
        raise SystemExit("invalid pretraining configuration:\n  - " + "\n  - ".join(problems))
    return RunConfig(model=model, parallel=parallel, stages=stages, options=options)


def _stage_problems(stage: Stage, options, model: ModelConfig, dp: int | None, vpp: int | None) -> list[str]:
    problems = []
    where = f"stage {stage.name}"
    if stage.train_iters < 1:
        problems.append(f"{where}: train_iters must be >= 1")
    if stage.train_iters >= 1 and stage.lr_warmup_iters >= stage.train_iters:
        problems.append(f"{where}: lr_warmup_iters {stage.lr_warmup_iters} must be below its {stage.train_iters} "
                        f"iterations (set --lr-warmup-iters or the stage's lr_warmup_iters)")
    if stage.seq_length > model.max_position_embeddings:
        problems.append(f"{where}: seq_length {stage.seq_length} exceeds the model's "
                        f"max_position_embeddings {model.max_position_embeddings}")
    if stage.sliding_window is not None and stage.sliding_window > stage.seq_length:
        problems.append(f"{where}: sliding_window {stage.sliding_window} exceeds seq_length {stage.seq_length}")
    if dp is not None:
        per_step = options.micro_batch_size * dp
        if stage.global_batch_size % per_step:
            problems.append(
                f"{where}: global batch {stage.global_batch_size} is not a multiple of micro batch "
                f"{options.micro_batch_size} x data parallel {dp} = {per_step}"
            )
        elif vpp and (stage.global_batch_size // per_step) % options.pipeline_model_parallel_size:
            problems.append(
                f"{where}: interleaved pipelining needs the {stage.global_batch_size // per_step} microbatches "
                f"to be a multiple of --pipeline-model-parallel-size {options.pipeline_model_parallel_size}"
            )
    return problems
