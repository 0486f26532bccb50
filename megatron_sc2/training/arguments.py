"""Command line and YAML configuration of a pretraining run.

options.py declares every option. Here flags and `--config run.yaml` (the same keys with '_'
for '-', plus `stages:`; flags given on the command line override the file) become its typed
sections, which resolve into the model, the parallel layout and the stages. Every inconsistency
is reported here, in one error, before any process group or model exists.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from megatron_sc2.config import ModelConfig, ParallelConfig, load_model_config, read_model_file
from megatron_sc2.data.tokenizer import TOKENIZER_TYPES
from megatron_sc2.training import launch_checks, megatron_lm, value_checks
from megatron_sc2.training.options import (
    BY_NAME,
    OPTIONS,
    RANGES,
    SECTIONS,
    BatchOptions,
    CheckpointOptions,
    DataOptions,
    LoggingOptions,
    ModelOptions,
    OptimizerOptions,
    ParallelOptions,
    section_values,
)
from megatron_sc2.training.stages import STAGE_KEYS, Stage, build_stage

_NUMBER = re.compile(r"-\d[\d.eE+-]*")  # a negative value after an unknown flag
SINGLE_STAGE_KEYS = STAGE_KEYS[1:]  # what a run without 'stages:' takes from its flags
# Architecture options -> ModelConfig fields; they override --model's preset when both are given.
# (--rotary-base and --sliding-window are stage settings: the model's values are only the stages' default.)
_RENAMED = {"norm_epsilon": "layernorm_epsilon"}
ARCHITECTURE = {o.name: _RENAMED.get(o.name, o.name) for o in OPTIONS if o.section is ModelOptions and not o.stage
                and _RENAMED.get(o.name, o.name) in {f.name for f in dataclasses.fields(ModelConfig)}}
# Megatron-LM's defaults for what a model described by flags alone leaves out (besides an MLP of
# 4 x hidden, one query group with --group-query-attention, else one per head).
FLAG_MODEL_DEFAULTS = {"rotary_base": 10000.0, "hidden_dropout": 0.1, "attention_dropout": 0.1}


@dataclass(frozen=True)
class RunConfig:
    """A checked run: what its options resolve to (model, parallel, stages) and each other section as given.

    A stage option (`stage=` in options.py) is read from `stages`, not from its section.
    """

    model: ModelConfig  # the preset or model file with the architecture flags over it
    parallel: ParallelConfig  # the layout, its virtual stages counted
    stages: tuple[Stage, ...]
    parallel_options: ParallelOptions  # the whole section: recompute, timeout
    batch: BatchOptions
    data: DataOptions
    optimizer: OptimizerOptions
    checkpoint: CheckpointOptions
    logging: LoggingOptions
    vocab_from_tokenizer: bool  # the embedding's rows become the tokenizer's at start (no --vocab-size, no file's)


def _stage_keys_text() -> str:
    """'name, rotary_base, ..., train_iters|train_samples|train_tokens, ...': a stage gives one of each '|'."""
    keys: dict[str, list[str]] = {}
    for o in OPTIONS:
        if o.stage:
            keys.setdefault(o.name if o.stage is True else o.stage, []).append(o.name)
    return ", ".join(["name", *("|".join(names) for names in keys.values())])


class _Parser(argparse.ArgumentParser):
    """Errors in one line, without the usage block."""

    def error(self, message):
        raise SystemExit(f"{self.prog}: error: {message} (see --help)")


def build_parser(suppress_defaults: bool = False) -> argparse.ArgumentParser:
    """One argument group per section of options.py, in order; Megatron-LM's other flags hidden."""
    parser = _Parser(
        prog="python -m megatron_sc2.pretrain",
        description="Pretrain a StarCoder2 model on megatron-core (TP x PP x DP, context-length stages).",
        epilog=f"Keys of --config YAML are the flag names with '_' for '-', plus 'stages:' (a list of "
        f"{{{_stage_keys_text()}}}). Flags given here override the file. Megatron-LM flags without an effect "
        f"here are accepted; those with no equivalent are refused with what to use (docs/training.md).",
        argument_default=argparse.SUPPRESS if suppress_defaults else None,
        allow_abbrev=False,
    )
    parser.add_argument("--config", help="run configuration YAML")
    for section in SECTIONS:
        group = parser.add_argument_group(section.title)
        for o in (o for o in OPTIONS if o.section is section):
            kwargs = {} if suppress_defaults else {"default": o.default}
            if o.kind is bool:
                group.add_argument(o.flag, action=argparse.BooleanOptionalAction, help=o.help, **kwargs)
            elif o.kind is tuple:
                group.add_argument(o.flag, nargs="+", help=o.help, **kwargs)
            else:
                group.add_argument(o.flag, type=o.kind, help=o.help + (f" (default {o.default})" if o.default else ""),
                                   **kwargs)
    megatron_lm.add_arguments(parser)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> tuple[argparse.Namespace, list[str]]:
    """Parse; each unknown flag is one problem, with the closest known flag."""
    options, unknown = parser.parse_known_args(argv)
    flags = [a.split("=", 1)[0] for a in unknown if a.startswith("-") and not _NUMBER.fullmatch(a)]
    problems = []
    for flag in flags:
        close = difflib.get_close_matches(flag, ["--config", *(o.flag for o in OPTIONS)], n=1)
        problems.append(f"unknown flag {flag}" + (f" (did you mean {close[0]}?)" if close else " (see --help)"))
    if unknown and not flags:
        problems.append(f"unexpected argument {unknown[0]!r} (see --help)")
    return options, problems


def parse_args(argv: list[str] | None = None, world_size: int | None = None, *,
               plan: bool = False, ranks_here: int | None = None) -> RunConfig:
    """`plan`: the checks of a plan (--dry-run), which reads no data and writes nothing: --data-path,
    --tokenizer-model and --save may be left out; each --data-path prefix given must have its .bin and
    .idx (listed with every other problem). `ranks_here`, for a launch: also check what this machine
    (running that many ranks) and the run's files allow (launch_checks)."""
    parser = build_parser()
    explicit, problems = _parse(build_parser(suppress_defaults=True), argv)
    explicit = vars(explicit)
    file_values, stage_specs = {}, None
    if explicit.get("config"):
        file_values, file_problems = _read_config_file(explicit["config"])
        problems += file_problems
        stage_specs = file_values.pop("stages", None)
    parser.set_defaults(**file_values)
    options, _ = _parse(parser, argv)
    return validate(options, stage_specs, explicit, world_size, plan, ranks_here=ranks_here, problems=problems)


def _read_config_file(path: str) -> tuple[dict, list[str]]:
    """The file's values, less its refused and unknown keys, and one problem for each of those."""
    config_path = Path(path)
    if not config_path.is_file():
        raise SystemExit(f"--config {path}: no such file")
    try:
        values = yaml.safe_load(config_path.read_text()) or {}
    except yaml.YAMLError as e:
        raise SystemExit(f"--config {path}: not valid YAML ({str(e).splitlines()[0]})") from None
    if not isinstance(values, dict):
        raise SystemExit(f"--config {path}: expected a mapping of option names")
    flags = {k: f"--{k.replace('_', '-')}" for k in values}
    refused = [k for k in values if flags[k] in megatron_lm.REFUSED]
    problems = [f"--config {path}: {megatron_lm.refusal(flags[k])}" for k in refused]
    unknown = sorted(set(values) - set(BY_NAME) - {"stages"} - set(refused))
    if unknown:
        problems.append(f"--config {path}: unknown keys {unknown}")
    values = {k: v for k, v in values.items() if k not in refused and k not in unknown}
    if isinstance(values.get("data_path"), str):
        values["data_path"] = values["data_path"].split()
    return values, problems


def _fail(problems: list[str]):
    raise SystemExit("invalid pretraining configuration:\n  - " + "\n  - ".join(problems))


def validate(options: argparse.Namespace, stage_specs: list | None, explicit: dict,
             world_size: int | None, plan: bool = False, *, ranks_here: int | None = None,
             problems: Sequence[str] = ()) -> RunConfig:
    """Every inconsistency, each with what to change, in one error. `options`: every flag's value
    (defaults, then the file's, then the command line's); `explicit`: the command line's alone;
    `problems`: what parsing found. Only a value out of its range, or no model, stops the checks
    that derive from them (the model, the stages, the layout, the machine); every other check runs."""
    values = vars(options)
    bad_values = _value_problems(values, stage_specs)
    problems = [*problems, *megatron_lm.problems(options), *bad_values]
    sections = {section: section_values(section, values) for section in SECTIONS}
    independent = _option_problems(sections, plan)  # listed after the model's, the stages' and the layout's
    tokenizer = None
    if ranks_here is not None:
        tokenizer, found = launch_checks.file_problems(sections[DataOptions], sections[CheckpointOptions])
        independent += found
    if bad_values:
        _fail(problems + independent)
    try:
        model, vocab_from_tokenizer = _model_config(sections[ModelOptions], values["seq_length"])
    except (ValueError, TypeError, OSError, yaml.YAMLError) as e:
        _fail([*problems, str(e), *independent])
    defaults = {k: values[k] for k in SINGLE_STAGE_KEYS}
    if defaults["rotary_base"] is None:
        defaults["rotary_base"] = model.rotary_base
    stage_overrides = {k: explicit[k] for k in SINGLE_STAGE_KEYS if k in explicit}
    stages = []
    try:
        if stage_specs:
            lengths = {o.name for o in OPTIONS if o.stage == "length"}
            if lengths & set(stage_overrides):
                problems.append("with 'stages:' in the config, set train_iters/train_tokens/train_samples "
                                "per stage there")
            stages = [build_stage({**spec, **stage_overrides}, defaults, i) for i, spec in enumerate(stage_specs)]
        else:
            stages = [build_stage({}, {**defaults, "name": "main"}, 0)]
    except ValueError as e:
        problems.append(str(e))

    layout = sections[ParallelOptions]
    vpp = None
    if layout.num_layers_per_virtual_pipeline_stage and model.num_layers % layout.pipeline_model_parallel_size == 0:
        per_stage = model.num_layers // layout.pipeline_model_parallel_size
        if per_stage % layout.num_layers_per_virtual_pipeline_stage:
            problems.append(
                f"--num-layers-per-virtual-pipeline-stage {layout.num_layers_per_virtual_pipeline_stage} must "
                f"divide the {per_stage} layers of each pipeline stage"
            )
        else:
            vpp = per_stage // layout.num_layers_per_virtual_pipeline_stage
    run = RunConfig(
        model=model,
        parallel=ParallelConfig(
            tensor_model_parallel_size=layout.tensor_model_parallel_size,
            pipeline_model_parallel_size=layout.pipeline_model_parallel_size,
            virtual_pipeline_model_parallel_size=vpp,
            use_distributed_optimizer=layout.use_distributed_optimizer,
            sequence_parallel=layout.sequence_parallel,
        ),
        stages=tuple(stages), parallel_options=layout, batch=sections[BatchOptions], data=sections[DataOptions],
        optimizer=sections[OptimizerOptions], checkpoint=sections[CheckpointOptions],
        logging=sections[LoggingOptions], vocab_from_tokenizer=vocab_from_tokenizer,
    )
    problems += run.parallel.layout_problems(model)
    dp = None
    if world_size is not None:
        try:
            dp = run.parallel.data_parallel_size(world_size)
        except ValueError as e:
            problems.append(str(e))
    for stage in run.stages:
        problems += _stage_problems(stage, run, dp, single=not stage_specs)
    problems += independent
    if ranks_here is not None:
        problems += launch_checks.run_problems(run, tokenizer, world_size, ranks_here)
    if plan:
        problems += launch_checks.missing_data_files(run.data.data_path)
    if len(run.stages) > 1 and not run.checkpoint.save and not plan:
        problems.append("a run with several stages needs --save: each stage boundary goes through a checkpoint")
    if problems:
        _fail(problems)
    return run


def _value_problems(values: dict, stage_specs: list | None) -> list[str]:
    """Each numeric value in its range, each named as given: a flag, or a key of a stage."""
    problems = value_checks.out_of_range(values, RANGES, lambda key: BY_NAME[key].flag)
    for index, spec in enumerate(stage_specs or []):
        if not isinstance(spec, dict):
            problems.append(f"stages[{index}] must be a mapping of stage keys")
            continue
        name = spec.get("name") or f"stage{index}"
        problems += value_checks.out_of_range(spec, RANGES, lambda key, name=name: f"stage {name}: {key}")
    return problems


def _model_config(options: ModelOptions, seq_length: int | None) -> tuple[ModelConfig, bool]:
    """--model's preset (or file) with the architecture flags over it; without --model, the flags alone.
    Also whether the vocabulary is the tokenizer's: neither --vocab-size nor a model file sets it."""
    flags = {field: getattr(options, name) for name, field in ARCHITECTURE.items()
             if getattr(options, name) is not None}
    if options.untie_embeddings_and_output_weights:
        flags["tie_embeddings"] = False
    if options.model is not None:
        base = load_model_config(options.model)
        file_vocab = Path(options.model).is_file() and "vocab_size" in read_model_file(options.model)
        return base.replace(**flags), options.vocab_size is None and not file_vocab
    missing = [BY_NAME[name].flag for name in ("num_layers", "hidden_size", "num_attention_heads")
               if name not in flags]
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
        "max_position_embeddings": seq_length or ModelConfig.max_position_embeddings,
        "rotary_base": options.rotary_base or FLAG_MODEL_DEFAULTS["rotary_base"],
        **flags,
    }), options.vocab_size is None


def _option_problems(sections: dict, plan: bool = False) -> list[str]:
    """What the options say of themselves, without the model or the stages (a plan needs no data,
    tokenizer or --save)."""
    layout, data, optimizer = sections[ParallelOptions], sections[DataOptions], sections[OptimizerOptions]
    checkpoint = sections[CheckpointOptions]
    split = value_checks.split_problem(str(data.split))
    problems = ([split] if split else []) + value_checks.blend_problems(data.data_path or [])
    if layout.recompute_granularity not in (None, "selective", "full"):
        problems.append("--recompute-granularity must be 'selective' or 'full'")
    if optimizer.lr_decay_style not in ("cosine", "linear", "constant"):
        problems.append("--lr-decay-style must be cosine, linear or constant")
    if data.tokenizer_type not in TOKENIZER_TYPES:
        problems.append(f"Megatron-LM's --tokenizer-type {data.tokenizer_type} is not supported here: use "
                        f"{' or '.join(TOKENIZER_TYPES)} (a tokenizer.json or a sentencepiece model)")
    if not data.data_path and not plan:
        problems.append("--data-path is required: a preprocessed prefix (tools/preprocess_data.py output)")
    if not data.tokenizer_model and not plan:
        problems.append("--tokenizer-model is required (tokenizer.json, its folder, or a sentencepiece model)")
    elif data.tokenizer_model and not Path(data.tokenizer_model).exists():
        problems.append(f"--tokenizer-model {data.tokenizer_model}: no such file or folder")
    if checkpoint.save_interval and not checkpoint.save and not plan:
        problems.append("--save-interval needs --save")
    if checkpoint.load and not Path(checkpoint.load).is_dir() and not same_directory(checkpoint.load, checkpoint.save):
        problems.append(f"--load {checkpoint.load}: no such checkpoint directory")
    if layout.sequence_parallel and layout.tensor_model_parallel_size == 1:
        problems.append("--sequence-parallel needs --tensor-model-parallel-size > 1")
    if optimizer.override_opt_param_scheduler and optimizer.use_checkpoint_opt_param_scheduler:
        problems.append("give one of --override-opt_param-scheduler and --use-checkpoint-opt_param-scheduler")
    return problems


def same_directory(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and Path(a).resolve() == Path(b).resolve()


def _stage_problems(stage: Stage, run: RunConfig, dp: int | None, single: bool) -> list[str]:
    problems = []
    where = "" if single else f"stage {stage.name}: "

    def name(key):
        return BY_NAME[key].flag if single else key

    if stage.train_iters < 1:
        problems.append(f"{where}{name('train_iters')} must give at least 1 iteration")
    if stage.min_lr > stage.lr:
        problems.append(f"{where}{name('min_lr')} {stage.min_lr} is above {name('lr')} {stage.lr}")
    if stage.lr_warmup_iters >= stage.lr_decay_iters:
        problems.append(f"{where}the {stage.lr_warmup_iters} warmup iterations must be fewer than the "
                        f"{stage.lr_decay_iters} decay iterations (set {name('lr_warmup_iters')} or "
                        f"{name('lr_decay_iters')})")
    if stage.seq_length > run.model.max_position_embeddings:
        problems.append(f"{where}{name('seq_length')} {stage.seq_length} exceeds the model's "
                        f"max_position_embeddings {run.model.max_position_embeddings}")
    if stage.sliding_window is not None and stage.sliding_window > stage.seq_length:
        problems.append(f"{where}{name('sliding_window')} {stage.sliding_window} exceeds seq_length "
                        f"{stage.seq_length}")
    if dp is not None:
        micro, pp = run.batch.micro_batch_size, run.parallel.pipeline_model_parallel_size
        per_step = micro * dp
        if stage.global_batch_size % per_step:
            problems.append(
                f"{where}global batch {stage.global_batch_size} is not a multiple of micro batch "
                f"{micro} x data parallel {dp} = {per_step}"
            )
        elif run.parallel.virtual_pipeline_model_parallel_size and (stage.global_batch_size // per_step) % pp:
            problems.append(
                f"{where}interleaved pipelining needs the {stage.global_batch_size // per_step} microbatches "
                f"to be a multiple of --pipeline-model-parallel-size {pp}"
            )
    return problems
