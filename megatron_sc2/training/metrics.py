"""Where training metrics go: one readable stdout line, a JSONL file, TensorBoard, W&B.

The loop hands `MetricsLogger.log` a flat dict per log interval (or per evaluation) with keys
such as iteration, consumed_samples, consumed_tokens, stage, seq_length, loss, grad_norm, lr,
iteration_time_s, tokens_per_sec, tokens_per_sec_per_device, tflops_per_device, mfu (a
fraction), memory_gb, valid_loss, valid_ppl; `throughput` and `peak_memory_gb` compute some
of them. Absent or None fields are left out of the line; every field goes to the JSONL file.
"""

from __future__ import annotations

import json
import math
import numbers
import resource
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Self

GIB = 2**30


def throughput(*, tokens: int, flops: float, seconds: float, num_devices: int,
               peak_tflops: float | None) -> dict:
    """Speed of one iteration of `tokens` tokens and `flops` model FLOPs over `num_devices`."""
    tflops_per_device = flops / seconds / num_devices / 1e12
    return {
        "tokens_per_sec": tokens / seconds,
        "tokens_per_sec_per_device": tokens / seconds / num_devices,
        "tflops_per_device": tflops_per_device,
        "mfu": tflops_per_device / peak_tflops if peak_tflops else None,
    }


def peak_memory_gb() -> float:
    """Peak memory of this process in GiB: CUDA's max allocated, or the peak RSS on CPU."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / GIB
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / GIB * (1 if sys.platform == "darwin" else 1024)  # bytes on macOS, KiB on Linux


def _si(x: float) -> str:
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:.1f}{suffix}"
    return f"{x:.0f}"


def _iteration(v: dict) -> str | None:
    if "iteration" not in v:
        return None
    total = f"/{v['train_iters']}" if v.get("train_iters") else ""
    return f"iter {v['iteration']:>7d}{total}"


def _field(key: str, fmt: Callable[[object], str]) -> Callable[[dict], str | None]:
    return lambda v: None if v.get(key) is None else fmt(v[key])


def _stage(v: dict) -> str | None:
    parts = [f"stage {v['stage']}" if v.get("stage") else "", f"seq {v['seq_length']}" if v.get("seq_length") else ""]
    return " ".join(p for p in parts if p) or None


def _speed(v: dict) -> str | None:
    if v.get("tokens_per_sec") is None:
        return None
    per_device = v.get("tokens_per_sec_per_device")
    return f"{_si(v['tokens_per_sec'])} tok/s" + (f" ({_si(per_device)}/dev)" if per_device is not None else "")


def _compute(v: dict) -> str | None:
    if v.get("tflops_per_device") is None:
        return None
    tflops, mfu = v["tflops_per_device"], v.get("mfu")
    rate = f"{tflops:.1f} TFLOP/s/dev" if tflops >= 1 else f"{1e3 * tflops:.1f} GFLOP/s/dev"
    return rate + (f" MFU {100 * mfu:.1f}%" if mfu is not None else "")


# The stdout line, left to right.
LINE_PARTS: tuple[Callable[[dict], str | None], ...] = (
    _iteration,
    _stage,
    _field("loss", lambda x: f"loss {x:.4f}"),
    _field("valid_loss", lambda x: f"valid loss {x:.4f}"),
    _field("valid_ppl", lambda x: f"valid ppl {x:.3f}"),
    _field("grad_norm", lambda x: f"grad {x:.3g}"),
    _field("lr", lambda x: f"lr {x:.1e}"),
    _field("iteration_time_s", lambda x: f"{x:.2f} s/it"),
    _speed,
    _compute,
    _field("memory_gb", lambda x: f"mem {x:.1f} GiB"),
    _field("consumed_tokens", lambda x: f"tokens {_si(x)}"),
)


def format_line(values: dict) -> str:
    return " | ".join(part for part in (render(values) for render in LINE_PARTS) if part)


def _is_number(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool)


def _json_value(x):
    """Plain JSON: numpy/torch scalars become numbers, NaN and inf become null."""
    if hasattr(x, "item"):
        x = x.item()
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def _tensorboard_tag(key: str) -> str:
    return f"valid/{key.removeprefix('valid_')}" if key.startswith("valid_") else f"train/{key}"


class MetricsLogger:
    """Writes each `log(values)` to stdout, `metrics_file` (JSONL, appended so a resumed run
    continues it), TensorBoard and W&B; on ranks other than the logging rank it does nothing.
    Losses are also written against consumed tokens (`train/loss_vs_tokens`), the x axis that
    stays comparable across stages with different batch sizes."""

    def __init__(self, metrics_file: str | None, tensorboard_dir: str | None, wandb_project: str | None,
                 wandb_run_name: str | None, is_logging_rank: bool):
        self.is_logging_rank = is_logging_rank
        self._file = self._tensorboard = self._wandb = None
        if not self.is_logging_rank:
            return
        if wandb_project:
            try:
                import wandb
            except ImportError:
                raise RuntimeError(
                    f"--wandb-project {wandb_project} was given but wandb is not installed: pip install wandb"
                ) from None
            self._wandb = wandb.init(project=wandb_project, name=wandb_run_name)
        if tensorboard_dir:
            from torch.utils.tensorboard import SummaryWriter

            self._tensorboard = SummaryWriter(log_dir=tensorboard_dir)
        if metrics_file:
            Path(metrics_file).parent.mkdir(parents=True, exist_ok=True)
            self._file = open(metrics_file, "a", encoding="utf-8")  # noqa: SIM115 (open for the run)

    def log(self, values: dict) -> None:
        if not self.is_logging_rank:
            return
        print(format_line(values), flush=True)
        record = {k: _json_value(v) for k, v in values.items()}
        if self._file is not None:
            self._file.write(json.dumps(record) + "\n")
            self._file.flush()
        step = record.get("iteration")
        scalars = {_tensorboard_tag(k): v for k, v in record.items() if _is_number(v) and k != "iteration"}
        if self._tensorboard is not None and step is not None:
            for tag, value in scalars.items():
                self._tensorboard.add_scalar(tag, value, step)
            if record.get("consumed_tokens") is not None:
                for tag in ("train/loss", "valid/loss"):
                    if tag in scalars:
                        self._tensorboard.add_scalar(f"{tag}_vs_tokens", scalars[tag], record["consumed_tokens"])
            self._tensorboard.flush()
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
        if self._wandb is not None:
            self._wandb.finish()
        self._file = self._tensorboard = self._wandb = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
