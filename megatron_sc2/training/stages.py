"""Context-length stages: StarCoder2 trains at 4k, then at 16k with a larger RoPE base and a window.

A run is a list of stages run in order by one launch. Each stage has its own length, sequence
length, rotary base, sliding window, global batch and LR schedule.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

from megatron_sc2.training.options import OPTIONS

STAGE_KEYS = ("name", *(o.name for o in OPTIONS if o.stage))  # the options a stage may set (options.py)


@dataclass(frozen=True)
class Stage:
    name: str
    train_iters: int
    seq_length: int
    rotary_base: float
    sliding_window: int | None
    global_batch_size: int
    lr: float
    min_lr: float
    lr_warmup_iters: int
    lr_decay_iters: int
    # The option and value that set the warmup and the decay, as given ('--lr-warmup-fraction 0.1'), for
    # messages; the length's option for a decay by default, '' for no warmup given.
    warmup_given: str = ""
    decay_given: str = ""

    @property
    def tokens_per_iteration(self) -> int:
        return self.global_batch_size * self.seq_length


def build_stage(values: dict, defaults: dict, index: int) -> Stage:
    """A stage from its YAML mapping, unset keys taken from the run's top-level values.

    Megatron-LM's sample counts (train, warmup, decay) become iterations at the stage's global
    batch; a warmup fraction is a share of the decay iterations (Megatron-LM's rule).
    """
    unknown = set(values) - set(STAGE_KEYS)
    if unknown:
        raise ValueError(f"stage {index}: unknown keys {sorted(unknown)}; known: {list(STAGE_KEYS)}")
    merged = {**{k: defaults.get(k) for k in STAGE_KEYS}, **values}
    name = merged.get("name") or f"stage{index}"
    lengths = ("train_iters", "train_tokens", "train_samples")
    given = {k: values[k] for k in lengths if values.get(k) is not None} or \
        {k: merged[k] for k in lengths if merged.get(k) is not None}
    if len(given) != 1:
        raise ValueError(f"stage {name}: give exactly one of --train-iters, --train-tokens or --train-samples")
    missing = [k for k in ("seq_length", "global_batch_size", "lr", "rotary_base") if merged.get(k) is None]
    if missing:
        raise ValueError(f"stage {name}: missing {', '.join('--' + k.replace('_', '-') for k in missing)}")
    seq, gbs = int(merged["seq_length"]), int(merged["global_batch_size"])
    (kind, amount), = given.items()
    iters = {"train_iters": lambda: int(amount), "train_samples": lambda: int(amount) // gbs,
             "train_tokens": lambda: math.ceil(float(amount) / (seq * gbs))}[kind]()
    decay, decay_given = _one_of(merged, name, {"lr_decay_iters": 1, "lr_decay_samples": gbs}, default=iters)
    warmup_fraction = merged.get("lr_warmup_fraction")
    warmup, warmup_given = _one_of(merged, name, {"lr_warmup_iters": 1, "lr_warmup_samples": gbs},
                                   default=round(float(warmup_fraction) * decay) if warmup_fraction is not None else 0)
    if warmup_fraction is not None:
        warmup_given = warmup_given or _given("lr_warmup_fraction", warmup_fraction)
    if warmup_fraction is not None and (merged.get("lr_warmup_iters") or merged.get("lr_warmup_samples")):
        raise ValueError(f"stage {name}: give one of --lr-warmup-iters, --lr-warmup-samples or --lr-warmup-fraction")
    window = merged.get("sliding_window")
    return Stage(
        name=name, train_iters=iters, seq_length=seq, rotary_base=float(merged["rotary_base"]),
        sliding_window=None if window in (None, 0) else int(window), global_batch_size=gbs,
        lr=float(merged["lr"]), min_lr=float(merged.get("min_lr") or 0.0),
        lr_warmup_iters=warmup, lr_decay_iters=decay, warmup_given=warmup_given,
        decay_given=decay_given or _given(kind, amount),
    )


def _one_of(values: dict, stage: str, keys: dict[str, int], default: int) -> tuple[int, str]:
    """The one of `keys` that is set (samples divided by the global batch) and how it was given, else
    (`default`, '')."""
    given = {k: values[k] for k in keys if values.get(k) is not None}
    if len(given) > 1:
        raise ValueError(f"stage {stage}: give only one of {', '.join('--' + k.replace('_', '-') for k in given)}")
    if not given:
        return default, ""
    (key, value), = given.items()
    return round(int(value) / keys[key]), _given(key, value)


def _given(key: str, value) -> str:
    return f"--{key.replace('_', '-')} {f'{value:g}' if isinstance(value, float) else value}"


def total_iters(stages: list[Stage]) -> int:
    return sum(s.train_iters for s in stages)


def stage_dict(stage: Stage) -> dict:
    return dataclasses.asdict(stage)
