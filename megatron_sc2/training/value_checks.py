"""The range of every numeric option, as a table: one line per bad value, naming its flag.

A value out of range fails here rather than deep in megatron-core (an assert), PyTorch (a
division by zero: `--seq-length 0` used to end in SIGFPE) or, worse, trains.
"""

from __future__ import annotations

import math
import re


def _number(value) -> float | None:
    """The value as a finite number (YAML may give "3e-4" as text), else None."""
    if isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _integer(value) -> bool:
    number = _number(value)
    return number is not None and number.is_integer() and not isinstance(value, str)


def at_least(low):
    return (lambda v: _number(v) is not None and _number(v) >= low), f">= {low}"


def positive():
    return (lambda v: _number(v) is not None and _number(v) > 0), "> 0"


def between(low, high, *, high_included: bool):
    def test(v):
        number = _number(v)
        return number is not None and low <= number and (number <= high if high_included else number < high)

    return test, f"in [{low}, {high}{']' if high_included else ')'}"


PROBABILITY = between(0, 1, high_included=True)
FRACTION = between(0, 1, high_included=False)

# option (dest name): (test, what it must be).
RULES = {
    "num_layers": at_least(1), "hidden_size": at_least(1), "ffn_hidden_size": at_least(1),
    "num_attention_heads": at_least(1), "num_query_groups": at_least(1), "max_position_embeddings": at_least(1),
    "rotary_base": positive(), "sliding_window": at_least(0), "init_method_std": positive(),
    "hidden_dropout": FRACTION, "attention_dropout": FRACTION, "norm_epsilon": positive(),
    "vocab_size": at_least(1), "make_vocab_size_divisible_by": at_least(1),
    "tensor_model_parallel_size": at_least(1), "pipeline_model_parallel_size": at_least(1),
    "num_layers_per_virtual_pipeline_stage": at_least(1), "recompute_num_layers": at_least(1),
    "micro_batch_size": at_least(1), "global_batch_size": at_least(1), "seq_length": at_least(1),
    "train_iters": at_least(1), "train_samples": at_least(1), "train_tokens": positive(),
    "fim_rate": PROBABILITY, "fim_spm_rate": PROBABILITY, "fim_fragment_rate": PROBABILITY,
    "num_workers": at_least(0),
    "lr": at_least(0), "min_lr": at_least(0), "lr_warmup_iters": at_least(0), "lr_warmup_samples": at_least(0),
    "lr_warmup_fraction": FRACTION, "lr_decay_iters": at_least(1), "lr_decay_samples": at_least(1),
    "weight_decay": at_least(0), "adam_beta1": FRACTION, "adam_beta2": FRACTION, "adam_eps": positive(),
    "clip_grad": at_least(0),
    "save_interval": at_least(1), "exit_duration_in_mins": positive(), "exit_interval": at_least(1),
    "log_interval": at_least(1), "eval_interval": at_least(1), "eval_iters": at_least(0),
    "peak_tflops": positive(), "seed": at_least(0), "distributed_timeout_minutes": positive(),
}
INTEGER_KEYS = {"train_iters", "train_samples", "seq_length", "global_batch_size", "sliding_window",
                "lr_warmup_iters", "lr_warmup_samples", "lr_decay_iters", "lr_decay_samples"}


def out_of_range(values: dict, label) -> list[str]:
    """One line per value of `values` (dest -> value; None is unset) outside its rule.
    `label(dest)` names the option in the message: a flag, or a stage's key."""
    problems = []
    for dest, value in values.items():
        if value is None or dest not in RULES:
            continue
        test, requirement = RULES[dest]
        if dest in INTEGER_KEYS and not _integer(value):
            problems.append(f"{label(dest)} must be an integer {requirement}, got {value!r}")
        elif not test(value):
            problems.append(f"{label(dest)} must be {requirement}, got {value!r}")
    return problems


def blend_problems(data_path: list) -> list[str]:
    """Megatron's --data-path blend `W1 PREFIX1 W2 PREFIX2 ...`: every weight a number above 0
    (megatron-core's blend builder ends in a traceback on the others)."""
    if len(data_path) % 2:
        return []  # prefixes only
    problems = []
    for weight, prefix in zip(data_path[::2], data_path[1::2]):
        try:
            number = float(weight)
        except (TypeError, ValueError):
            continue  # not a weight: megatron-core reads the list as prefixes only
        if not (math.isfinite(number) and number > 0):
            problems.append(f"--data-path weight {weight} of {prefix} must be a number above 0 "
                            f"(leave the prefix out to not train on it)")
    return problems


def split_problem(split: str) -> str | None:
    """Megatron's --split: up to three train,valid,test weights (',' or '/'), train's above 0."""
    parts = re.split(r"[,/]", split.strip())
    try:
        weights = [float(p) for p in parts]
    except ValueError:
        weights = []
    if not 1 <= len(weights) <= 3 or not all(_number(w) is not None and w >= 0 for w in weights):
        return f"--split {split!r} must be up to three non-negative train,valid,test weights, e.g. 969,30,1"
    if weights[0] <= 0:
        return f"--split {split!r} gives the train split nothing: its first weight must be above 0"
    return None
