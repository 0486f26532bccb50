"""What an evaluation leaves in --output: samples.jsonl, summary.json, and a table beside the paper."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import megatron_sc2
from megatron_sc2 import publish
from megatron_sc2.evaluation.tasks import read_manifest, sha256

MODELS = ("StarCoder2-3B", "StarCoder2-7B", "StarCoder2-15B")


def _by_size(b3: float | None, b7: float | None, b15: float | None) -> dict[str, float]:
    return {model: value for model, value in zip(MODELS, (b3, b7, b15)) if value is not None}


# The released models' figures (arXiv 2402.19173, section 7) as fractions, keyed by the (task, metric)
# rows of suite.STARCODER2. Sources: "model cards" is the model-index of huggingface.co/bigcode/
# starcoder2-3b, -7b and -15b (the paper's figures); "secondary" is the paper's table as quoted in a
# secondary source, not checked against the paper itself. A figure no source gave is left out.
PAPER = {
    ("humaneval", "pass@1"): _by_size(0.317, 0.354, 0.463),  # Table 9, model cards
    ("humaneval-plus", "pass@1"): _by_size(0.274, 0.299, 0.378),  # Table 9, model cards
    ("mbpp", "pass@1"): _by_size(0.574, 0.544, 0.662),  # Table 9, secondary (15B: also paperswithcode.com)
    ("mbpp-plus", "pass@1"): _by_size(0.474, 0.456, 0.531),  # Table 9, secondary
    ("multiple-cpp", "pass@1"): _by_size(None, 0.336, 0.414),  # MultiPL-E, secondary
    ("ds1000", "pass@1"): _by_size(0.250, 0.278, 0.338),  # model cards
    ("canitedit", "descriptive_pass@1"): _by_size(None, None, 0.4308),  # secondary
    ("canitedit", "lazy_pass@1"): _by_size(None, None, 0.3845),  # secondary
    ("gsm8k-pal", "pass@1"): _by_size(0.277, 0.404, 0.651),  # model cards ("accuracy")
    ("cruxeval-i", "pass@1"): _by_size(0.327, 0.346, 0.481),  # model cards
    ("cruxeval-o", "pass@1"): _by_size(None, None, 0.471),  # secondary
    # SantaCoder's single-line FIM benchmark, exact match (Table 16, secondary; the 15B was trained with a FIM bug)
    ("fim-py", "exact_match"): _by_size(0.591, None, 0.484),
    ("fim-java", "exact_match"): _by_size(0.750, None, 0.605),
    ("fim-js", "exact_match"): _by_size(0.730, None, 0.547),
    ("repobench-python", "edit_similarity"): _by_size(0.7119, 0.7207, 0.7408),  # RepoBench-v1.1, model cards
}
FIGURES = ("exact_match", "edit_similarity", "identifier_exact_match", "identifier_f1",  # and every pass@k
           "perplexity", "bits_per_byte", "loss")


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


def manifest_record(path: Path) -> dict:
    """What summary.json says of a --manifest: the file, its sha256, and the sums it vouched for."""
    return {"path": str(path), "sha256": sha256(path),
            "vouched_for": {name: entry["sha256"] for name, entry in read_manifest(path).items()}}


def table(metrics: dict[str, dict], sections: Sequence = (), not_run: dict[str, str] | None = None) -> str:
    """One row per task and metric, saying what it was scored on; the released models' published figures
    stand beside a task scored on its whole benchmark only (a --limit run is not comparable). `sections`
    (suite.Section) lay rows out as the paper does, under its titles, a task that did not run saying why
    (`not_run`); the tasks outside them follow, a row per metric."""
    entries = list(_entries(metrics, sections, not_run or {}))
    shown = [m for m in MODELS if any(isinstance(entry, tuple) and m in (entry[1] or {}) for entry in entries)]
    header = ["task", "metric", "scored on", "this model", *shown]
    lines = [header, *(_cells(entry, shown) for entry in entries)]
    measured = [line if len(line) == len(header) else line[:2] for line in lines if isinstance(line, list)]
    widths = [max(len(line[i]) for line in measured if i < len(line))  # a reason why a task did not run
              for i in range(len(header))]                              # goes on past the columns
    text = [line if isinstance(line, str) else "  ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip()
            for line in lines]
    notes = [f"{task}: {values['problems']} of {values['benchmark_problems']} problems ({_why_fewer(values)}), so "
             "the paper's full-benchmark figures are not shown" for task, values in metrics.items() if not _whole(values)]
    return "\n".join(text + notes)


def _entries(metrics: dict[str, dict], sections: Sequence, not_run: dict[str, str]) -> Iterator:
    """Section titles, and rows: (cells, the paper's figures beside them, or None for a task that did not run)."""
    laid_out = {task for section in sections for task, _ in section.rows}
    rest = tuple((task, metric) for task, values in metrics.items() if task not in laid_out
                 for metric in values if "pass@" in metric or metric in FIGURES)
    for title, rows in [*((section.title, section.rows) for section in sections),
                        ("Other tasks" if sections else "", rest)]:
        if rows and title:
            yield title
        for task, metric in rows:
            if task in not_run:
                yield [task, metric, f"not run: {not_run[task]}"], None
                continue
            values = metrics[task]
            value = "-" if values.get(metric) is None else f"{values[metric]:.3f}"
            yield [task, metric, _scored_on(values), value], PAPER.get((task, metric), {}) if _whole(values) else {}


def _cells(entry, shown: list[str]) -> str | list[str]:
    if isinstance(entry, str):
        return entry
    cells, paper = entry
    return cells if paper is None else [*cells, *(f"{paper[m]:.3f}" if m in paper else "-" for m in shown)]


def _why_fewer(values: dict) -> str:
    skipped = values.get("skipped_problems")
    return f"{skipped} skipped, see summary.json" if skipped else "--limit"


def _whole(values: dict) -> bool:
    """Whether a task was scored on its whole benchmark (perplexity has none: it counts as whole)."""
    return values.get("problems") == values.get("benchmark_problems", values.get("problems"))


def _scored_on(values: dict) -> str:
    """What a task's figures count, with their units: tokens (perplexity), or problems and samples each."""
    if "tokens" in values:
        return f"{values['tokens']:,} tokens"
    problems, total, n = values["problems"], values.get("benchmark_problems", values["problems"]), values["n"]
    scored = f"{problems} problems" if problems == total else f"{problems} of {total} problems"
    return f"{scored} x {n} sample{'s' if n != 1 else ''}"
