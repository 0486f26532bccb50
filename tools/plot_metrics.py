#!/usr/bin/env python
"""Plot training and validation loss against consumed tokens from metrics JSONL files.

Reads the files `--metrics-file` writes (one JSON object per line), one curve per file, marks
where the context-length stage changes, and shows the learning rate underneath. Evaluation
records that `tools/evaluate.py --run` appends (`eval/TASK/METRIC` keys: HumanEval pass@1,
infilling exact match) get a panel of their own beside the loss. A run that was
resumed from an earlier checkpoint appends to the same file; the lines it logs again replace the
ones from before the restart. Needs matplotlib.

Examples:
  python tools/plot_metrics.py runs/sc2-15b/metrics.jsonl -o loss.png
  python tools/plot_metrics.py runs/a/metrics.jsonl runs/b/metrics.jsonl -o compare.png --title "a vs b"
"""

from __future__ import annotations

import argparse
import json
import sys
from itertools import pairwise
from pathlib import Path

from megatron_sc2 import publish


def read_metrics(path: Path) -> tuple[list[dict], list[dict]]:
    """Train records (with `loss`) and validation records (with `valid_loss`), each in iteration
    order, a resumed run's records replacing those it logs again."""
    train, valid = [], []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as e:
            if number == len(lines):  # a run killed mid-write leaves a partial last line
                print(f"{path}:{number}: skipping the incomplete last line", file=sys.stderr)
                continue
            raise ValueError(f"{path}:{number}: not a JSON object: {e}") from None
        series = train if record.get("loss") is not None else valid if record.get("valid_loss") is not None else None
        if series is None:
            continue
        if "consumed_tokens" not in record or "iteration" not in record:
            raise ValueError(f"{path}:{number}: a loss record needs 'iteration' and 'consumed_tokens'")
        while series and series[-1]["iteration"] >= record["iteration"]:
            series.pop()
        series.append(record)
    if not train and not valid:
        raise ValueError(f"{path}: no records with 'loss' or 'valid_loss'")
    return train, valid


EVAL_PREFIX = "eval/"
EVAL_PLOTTED = ("pass@1", "exact_match")  # fractions, drawn on one 0-1 axis


def read_evals(path: Path) -> dict[str, list[tuple[float, float]]]:
    """`eval/TASK/METRIC` -> [(consumed tokens, value)] for the fraction metrics, in token order,
    the latest record of an iteration winning."""
    by_iteration: dict[int, dict] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and any(k.startswith(EVAL_PREFIX) for k in record):
            by_iteration[record.get("iteration")] = record
    series: dict[str, list[tuple[float, float]]] = {}
    for record in sorted(by_iteration.values(), key=lambda r: r.get("consumed_tokens") or 0):
        for key, value in record.items():
            if key.startswith(EVAL_PREFIX) and key.endswith(EVAL_PLOTTED) and value is not None:
                series.setdefault(key.removeprefix(EVAL_PREFIX), []).append((record.get("consumed_tokens") or 0, value))
    return series


def stage_boundaries(train: list[dict]) -> list[tuple[float, str]]:
    """(tokens, new stage) at each stage change, placed at the last record of the stage before."""
    return [
        (before["consumed_tokens"], record["stage"])
        for before, record in pairwise(train)
        if record.get("stage") and record["stage"] != before.get("stage")
    ]


def _tokens_label(x: float, _pos=None) -> str:
    for factor, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= factor:
            return f"{x / factor:g}{suffix}"
    return f"{x:g}"


def plot(runs: dict[str, tuple[list[dict], list[dict]]], output: Path, title: str | None,
         evals: dict[str, dict[str, list[tuple[float, float]]]] | None = None) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FuncFormatter

    evals = {label: series for label, series in (evals or {}).items() if series}
    if evals:
        fig, (loss_ax, eval_ax, lr_ax) = plt.subplots(
            3, 1, sharex=True, figsize=(11, 9), height_ratios=(3, 2, 1), constrained_layout=True
        )
        for index, label in enumerate(runs):
            for style, (name, points) in zip(("-", "--", ":", "-."), sorted(evals.get(label, {}).items())):
                eval_ax.plot(*zip(*points), color=f"C{index}", ls=style, marker="o", ms=4, label=f"{label} {name}")
        eval_ax.set_ylabel("eval (fraction)")
        eval_ax.set_ylim(0, 1)
        eval_ax.grid(True, alpha=0.3)
        eval_ax.legend(loc="upper left", fontsize=8)
    else:
        fig, (loss_ax, lr_ax) = plt.subplots(
            2, 1, sharex=True, figsize=(11, 7), height_ratios=(3, 1), constrained_layout=True
        )
    first_stages, boundaries = {}, {}
    for index, (label, (train, valid)) in enumerate(runs.items()):
        color = f"C{index}"
        if train:
            tokens = [r["consumed_tokens"] for r in train]
            loss_ax.plot(tokens, [r["loss"] for r in train], color=color, lw=1.2, label=f"{label} train")
            lr_ax.plot(tokens, [r.get("lr") for r in train], color=color, lw=1.2)
            first_stages[train[0].get("stage")] = None
            boundaries.update(dict.fromkeys(stage_boundaries(train)))
        if valid:
            loss_ax.plot([r["consumed_tokens"] for r in valid], [r["valid_loss"] for r in valid], color=color,
                         ls="--", marker="o", ms=4, lw=1, label=f"{label} valid")
    stage_label = {"fontsize": 9, "color": "0.25", "va": "top", "textcoords": "offset points", "xytext": (3, -3)}
    names = ", ".join(name for name in first_stages if name)
    if names:
        loss_ax.annotate(names, (0, 1), xycoords="axes fraction", **stage_label)
    for x, stage in boundaries:
        for ax in (loss_ax, lr_ax):
            ax.axvline(x, color="0.4", ls=":", lw=1)
        loss_ax.annotate(stage, (x, 1), xycoords=("data", "axes fraction"), **stage_label)
    loss_ax.set_yscale("log")
    loss_ax.yaxis.set_major_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    loss_ax.yaxis.set_minor_formatter(FuncFormatter(lambda y, _: f"{y:g}"))
    loss_ax.set_ylabel("loss (log scale)")
    loss_ax.grid(True, which="both", alpha=0.3)
    loss_ax.legend(loc="lower left")
    loss_ax.set_title(title or "loss vs consumed tokens")
    lr_ax.set_ylabel("learning rate")
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    lr_ax.grid(True, alpha=0.3)
    lr_ax.set_xlabel("consumed tokens")
    lr_ax.xaxis.set_major_formatter(FuncFormatter(_tokens_label))
    image_format = output.suffix.lstrip(".") or "png"
    publish.write_whole(output, lambda staged: fig.savefig(staged, dpi=120, format=image_format))
    plt.close(fig)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("metrics", nargs="+", type=Path, help="metrics JSONL files, one curve each")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="image to write; the format follows the suffix (.png, .svg, .pdf)")
    parser.add_argument("--title", help="figure title (default: 'loss vs consumed tokens')")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        print("plot_metrics needs matplotlib: pip install matplotlib", file=sys.stderr)
        return 1
    runs, evals = {}, {}
    try:
        for path in args.metrics:
            runs[str(path)] = read_metrics(path)
            evals[str(path)] = read_evals(path)
    except (OSError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    plot(runs, args.output, args.title, evals)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
