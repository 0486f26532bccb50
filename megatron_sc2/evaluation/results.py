"""What an evaluation leaves in --output: samples.jsonl, summary.json, and a table beside the paper."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path

import megatron_sc2
from megatron_sc2 import publish

# Released StarCoder2 models (arXiv 2402.19173). HumanEval: greedy pass@1, Table 9, as on the
# model cards. Infilling: Python single-line exact match, Table 16, read in a secondary source.
PAPER = {
    ("humaneval", "pass@1"): {"StarCoder2-3B": 0.317, "StarCoder2-7B": 0.354, "StarCoder2-15B": 0.463},
    ("humaneval-infill", "exact_match"): {"StarCoder2-3B": 0.591, "StarCoder2-15B": 0.484},
}


def weights_sha256(model_dir: Path) -> str | None:
    """One sha256 over the folder's weight files, in name order (None for no folder)."""
    files = sorted(p for p in Path(model_dir).iterdir() if p.suffix in (".safetensors", ".bin"))
    if not files:
        return None
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        with open(path, "rb") as f:
            while chunk := f.read(2**24):
                digest.update(chunk)
    return digest.hexdigest()


def git_commit() -> str | None:
    repo = Path(megatron_sc2.__file__).resolve().parents[1]
    try:
        result = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                                check=False, timeout=10)
    except OSError:
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def provenance() -> dict:
    return {"version": megatron_sc2.__version__, "git_commit": git_commit()}


FILES = ("samples.jsonl", "summary.json")


def write(output: Path, summary: dict, records: list[dict]) -> None:
    """samples.jsonl and summary.json, each written whole then renamed into place."""
    output.mkdir(parents=True, exist_ok=True)
    texts = ("".join(json.dumps(r) + "\n" for r in records), json.dumps(summary, indent=2) + "\n")
    for name, text in zip(FILES, texts):
        publish.write_text(output / name, text)


def table(metrics: dict[str, dict]) -> str:
    """One row per task and metric, with the released models' published figures beside it."""
    models = ["StarCoder2-3B", "StarCoder2-7B", "StarCoder2-15B"]
    header = ["task", "metric", "n", "this model", *models]
    rows = []
    for task, values in metrics.items():
        for metric, value in values.items():
            if not (metric.startswith("pass@") or metric in ("exact_match", "perplexity", "bits_per_byte", "loss")):
                continue
            paper = PAPER.get((task, metric), {})
            rows.append([task, metric, str(values.get("n", values.get("tokens", ""))), f"{value:.3f}",
                         *(f"{paper[m]:.3f}" if m in paper else "-" for m in models)])
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)) for row in [header, *rows]]
    return "\n".join(lines)
