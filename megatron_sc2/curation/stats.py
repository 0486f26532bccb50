"""One `stats.json` for a curation run: what each stage removed and redacted, by reason, from datatrove's stats."""

import json
import os
from pathlib import Path

from datatrove.utils.stats import PipelineStats


def _stage_stats(logging_dir: Path) -> PipelineStats:
    """Sum of the per-task stats files a stage wrote (`stats/<rank>.json`), whichever executor ran it."""
    total = PipelineStats()
    for path in sorted((logging_dir / "stats").glob("*.json")):
        total += PipelineStats.from_json(json.loads(path.read_text()))
    return total


def _total(metric) -> int:
    # read back from JSON, a metric is a MetricStats, its dict form, or a bare total
    if isinstance(metric, dict):
        return int(metric["total"])
    return int(getattr(metric, "total", metric))


def _totals(step_stats) -> dict[str, int]:
    totals = {name: _total(metric) for name, metric in step_stats.stats.items()}
    return {name: value for name, value in totals.items() if value}


# Steps that drop without naming a reason, and the reason they stand for.
UNNAMED_DROPS = {"MinHash stage 4": "near_duplicate"}


def summarize(logs_dir: str, stages: list[str]) -> dict:
    """Per stage and step, the counters datatrove kept; over the whole run, `removed` (reason -> files),
    `redacted` (kind -> values), `documents_in` and `documents_out`."""
    summary = {"stages": {}, "removed": {}, "redacted": {}}
    for stage in stages:
        steps = {}
        for step in _stage_stats(Path(logs_dir) / stage).stats:
            counters = _totals(step)
            steps[step.name] = counters
            for name, value in counters.items():
                unnamed = [r for marker, r in UNNAMED_DROPS.items() if marker in step.name and name == "dropped"]
                if unnamed:
                    summary["removed"][unnamed[0]] = summary["removed"].get(unnamed[0], 0) + value
                elif name.startswith("dropped_"):
                    reason = name.removeprefix("dropped_")
                    summary["removed"][reason] = summary["removed"].get(reason, 0) + value
                elif name.startswith("redacted_"):
                    summary["redacted"][name.removeprefix("redacted_")] = value
        summary["stages"][stage] = steps
    first, last = summary["stages"][stages[0]], summary["stages"][stages[-1]]
    summary["documents_in"] = next((c.get("documents", 0) for n, c in first.items() if "READER" in n), 0)
    summary["documents_out"] = next((c.get("total", 0) for n, c in last.items() if "WRITER" in n), 0)
    return summary


def write_json_atomically(data: dict, path: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w") as f:
        json.dump(data, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    os.replace(tmp, path)
