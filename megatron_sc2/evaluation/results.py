"""What an evaluation leaves in --output: samples.jsonl, summary.json, and a table beside the paper."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
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
LOCK = ".evaluate.lock"


def own(output: Path) -> publish.Output:
    """The one evaluation writing `output` (a second is refused, naming the first), as the other tools
    own theirs; a killed run's half-written files (.NAME.partial, see write) go when the next one starts."""
    return publish.Output(f"--output {output}", output / LOCK, without_locks=publish.WithoutLocks.RECORDED_OWNER,
                          leftovers=".*.partial", in_use="is being written by another evaluation",
                          advice="wait for it to end or choose another --output",
                          log=lambda message: print(f"evaluate: {message}", file=sys.stderr))


def write(output: Path, summary: dict, records: list[dict]) -> None:
    """samples.jsonl and summary.json, each written whole then renamed into place."""
    output.mkdir(parents=True, exist_ok=True)
    texts = ("".join(json.dumps(r) + "\n" for r in records), json.dumps(summary, indent=2) + "\n")
    for name, text in zip(FILES, texts):
        publish.write_text(output / name, text)


def table(metrics: dict[str, dict]) -> str:
    """One row per task and metric, saying what it was scored on; the released models' published figures
    stand beside a task scored on its whole benchmark only (a --limit run is not comparable)."""
    models = ["StarCoder2-3B", "StarCoder2-7B", "StarCoder2-15B"]
    rows, notes = [], []
    for task, values in metrics.items():
        whole = values.get("problems") == values.get("benchmark_problems", values.get("problems"))
        if not whole:
            why = f"{values['skipped_problems']} skipped, see summary.json" if values.get("skipped_problems") \
                else "--limit"
            notes.append(f"{task}: {values['problems']} of {values['benchmark_problems']} problems ({why}), so "
                         "the paper's full-benchmark figures are not shown")
        for metric, value in values.items():
            if "pass@" in metric or metric in ("exact_match", "edit_similarity", "identifier_exact_match",
                                               "identifier_f1", "perplexity", "bits_per_byte", "loss"):
                paper = PAPER.get((task, metric), {}) if whole else {}
                rows.append(([task, metric, _scored_on(values), f"{value:.3f}"], paper))
    shown = [m for m in models if any(m in paper for _, paper in rows)]
    cells = [["task", "metric", "scored on", "this model", *shown]]
    cells += [[*row, *(f"{paper[m]:.3f}" if m in paper else "-" for m in shown)] for row, paper in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(cells[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines + notes)


def _scored_on(values: dict) -> str:
    """What a task's figures count, with their units: tokens (perplexity), or problems and samples each."""
    if "tokens" in values:
        return f"{values['tokens']:,} tokens"
    problems, total, n = values["problems"], values.get("benchmark_problems", values["problems"]), values["n"]
    scored = f"{problems} problems" if problems == total else f"{problems} of {total} problems"
    return f"{scored} x {n} sample{'s' if n != 1 else ''}"
