"""Range checks of numeric options (options.py declares each one's): one line per bad value, naming its flag.

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


def out_of_range(values: dict, rules: dict, label) -> list[str]:
    """One line per value of `values` (dest -> value; None is unset) outside its rule.
    `rules`: dest -> (test, what it must be, whether an integer); `label(dest)` names the option
    in the message: a flag, or a stage's key."""
    problems = []
    for dest, value in values.items():
        if value is None or dest not in rules:
            continue
        test, requirement, integer = rules[dest]
        if integer and not _integer(value):
            problems.append(f"{label(dest)} must be an integer {requirement}, got {value!r}")
        elif not test(value):
            problems.append(f"{label(dest)} must be {requirement}, got {value!r}")
    return problems


def blend_problems(data_path: list) -> list[str]:
    """Megatron's --data-path blend `W1 PREFIX1 W2 PREFIX2 ...`: every weight a number above 0
    (megatron-core's blend builder ends in a traceback on the others)."""
    if len(data_path) % 2:
        return []  # prefixes only
    problems, weights = [], []
    for weight, prefix in zip(data_path[::2], data_path[1::2]):
        try:
            weights.append(float(weight))
        except (TypeError, ValueError):
            continue  # not a weight: megatron-core reads the list as prefixes only
        if not (math.isfinite(weights[-1]) and weights[-1] > 0):
            problems.append(f"--data-path weight {weight} of {prefix} must be a number above 0 "
                            f"(leave the prefix out to not train on it)")
    if not problems and not math.isfinite(sum(weights)):
        problems.append(f"--data-path weights {' '.join(data_path[::2])} add up to more than a float holds: "
                        f"scale them down (only their ratios count)")
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
