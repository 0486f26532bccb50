"""Context-length stages: StarCoder2 trains at 4k, then at 16k with a larger RoPE base and a window.

A run is a list of stages run in order by one launch. Each stage has its own length, sequence
length, rotary base, sliding window, global batch and LR schedule.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

STAGE_KEYS = (
    "name", "train_iters", "train_tokens", "seq_length", "rotary_base", "sliding_window",
    "global_batch_size", "lr", "min_lr", "lr_warmup_iters",
)


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

    @property
    def tokens_per_iteration(self) -> int:
        return self.global_batch_size * self.seq_length


def build_stage(values: dict, defaults: dict, index: int) -> Stage:
    """A stage from its YAML mapping, unset keys taken from the run's top-level values."""
    unknown = set(values) - set(STAGE_KEYS)
    if unknown:
        raise ValueError(f"stage {index}: unknown keys {sorted(unknown)}; known: {list(STAGE_KEYS)}")
    merged = {**{k: defaults.get(k) for k in STAGE_KEYS}, **values}
    name = merged.get("name") or f"stage{index}"
    iters, tokens = values.get("train_iters"), values.get("train_tokens")
    if iters is None and tokens is None:
        iters, tokens = merged.get("train_iters"), merged.get("train_tokens")
    if (iters is None) == (tokens is None):
        raise ValueError(f"stage {name}: give exactly one of train_iters or train_tokens")
    missing = [k for k in ("seq_length", "global_batch_size", "lr", "rotary_base") if merged.get(k) is None]
    if missing:
        raise ValueError(f"stage {name}: missing {', '.join('--' + k.replace('_', '-') for k in missing)}")
    seq, gbs = int(merged["seq_length"]), int(merged["global_batch_size"])
    if iters is None:
        iters = math.ceil(float(tokens) / (seq * gbs))
    window = merged.get("sliding_window")
    return Stage(
        name=name, train_iters=int(iters), seq_length=seq, rotary_base=float(merged["rotary_base"]),
        sliding_window=None if window in (None, 0) else int(window), global_batch_size=gbs,
        lr=float(merged["lr"]), min_lr=float(merged.get("min_lr") or 0.0),
        lr_warmup_iters=int(merged.get("lr_warmup_iters") or 0),
    )


def total_iters(stages: list[Stage]) -> int:
    return sum(s.train_iters for s in stages)


def stage_dict(stage: Stage) -> dict:
    return dataclasses.asdict(stage)
