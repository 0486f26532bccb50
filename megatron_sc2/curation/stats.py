"""One `stats.json` for a curation run: what each stage removed and redacted, by reason, from datatrove's stats;
and the check that stops a run whose input was empty or too bad to publish."""

import json
from pathlib import Path

from datatrove.utils.stats import PipelineStats

from megatron_sc2 import publish


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


# Counter naming a file that broke off: `corrupt_file <path>`.
CORRUPT_FILE = "corrupt_file "
# Counter naming the ClamAV signature that removed a file: `malware_signature <name>`.
MALWARE_SIGNATURE = "malware_signature "
# Steps that drop without naming a reason, and the reason they stand for.
UNNAMED_DROPS = {"MinHash stage 4": "near_duplicate"}


def summarize(logs_dir: str, stages: list[str]) -> dict:
    """Per stage and step, the counters datatrove kept; over the whole run, `removed` (reason -> files),
    `redacted` (kind -> values), `malware` (ClamAV signature -> files), `documents_in` and `documents_out`; of the input, `records`, `bad` (reason ->
    records), `bad_records`, `bad_fraction` and `corrupt_files` (paths)."""
    summary = {"stages": {}, "removed": {}, "redacted": {}, "malware": {}, "bad": {}, "corrupt_files": []}
    for stage in stages:
        steps = {}
        for step in _stage_stats(Path(logs_dir) / stage).stats:
            counters = _totals(step)
            summary["corrupt_files"] += [n.removeprefix(CORRUPT_FILE) for n in counters if n.startswith(CORRUPT_FILE)]
            counters = {n: v for n, v in counters.items() if not n.startswith(CORRUPT_FILE)}
            steps[step.name] = counters
            for name, value in counters.items():
                if name.startswith("bad_"):
                    summary["bad"][name.removeprefix("bad_")] = value
                unnamed = [r for marker, r in UNNAMED_DROPS.items() if marker in step.name and name == "dropped"]
                if unnamed:
                    summary["removed"][unnamed[0]] = summary["removed"].get(unnamed[0], 0) + value
                elif name.startswith("dropped_"):
                    reason = name.removeprefix("dropped_")
                    summary["removed"][reason] = summary["removed"].get(reason, 0) + value
                elif name.startswith("redacted_"):
                    summary["redacted"][name.removeprefix("redacted_")] = value
                elif name.startswith(MALWARE_SIGNATURE):
                    summary["malware"][name.removeprefix(MALWARE_SIGNATURE)] = value
        summary["stages"][stage] = steps
    first, last = summary["stages"][stages[0]], summary["stages"][stages[-1]]
    summary["documents_in"] = next((c.get("documents", 0) for n, c in first.items() if "READER" in n), 0)
    summary["documents_out"] = next((c.get("total", 0) for n, c in last.items() if "WRITER" in n), 0)
    summary["records"] = next((c.get("records", 0) for n, c in first.items() if "READER" in n), 0)
    summary["bad_records"] = sum(summary["bad"].values())
    summary["bad_fraction"] = round(summary["bad_records"] / summary["records"], 6) if summary["records"] else 0.0
    return summary


class RefusedInput(BaseException):
    """The input cannot give a complete output; the message is the one line the user sees.

    A BaseException, so that datatrove's task runner lets it through without logging it as a crash."""


# What a bad-record reason means for the user, where the reason alone does not say.
BAD_REASON_HINTS = {
    "missing_key": "records without the content column: check --schema",
    "corrupt_file": "files that break off: {files}",
}


def check_input(summary: dict, input_folder: str, max_bad_fraction: float) -> None:
    """Raises RefusedInput if the input held no records, more than `max_bad_fraction` bad ones (the contract of
    `preprocess_data.py --max-bad-fraction`), or none that survived the filters."""
    where = f"--input {input_folder}"
    if not summary["records"]:
        raise RefusedInput(f"{where}: the input files hold no records; nothing to curate")
    if summary["bad_fraction"] > max_bad_fraction:
        reasons = ", ".join(f"{reason} {count}" for reason, count in sorted(summary["bad"].items()))
        hints = "; ".join(
            BAD_REASON_HINTS[reason].format(files=", ".join(summary["corrupt_files"]))
            for reason in sorted(summary["bad"]) if reason in BAD_REASON_HINTS
        )
        raise RefusedInput(
            f"{where}: {summary['bad_records']:,} of {summary['records']:,} records are bad ({reasons}"
            f"{'; ' + hints if hints else ''}), more than --max-bad-fraction {max_bad_fraction:.2%}; "
            "nothing was published"
        )
    if not summary["documents_out"]:
        removed = ", ".join(f"{reason} {count}" for reason, count in sorted(summary["removed"].items()))
        raise RefusedInput(f"{where}: the filters removed all {summary['records']:,} records ({removed}); "
                           "nothing to publish")


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{name} {count:,}" for name, count in sorted(counts.items())) or "none"


def report(summary: dict) -> str:
    """The run's totals in one line."""
    corrupt = f"; files that break off: {', '.join(summary['corrupt_files'])}" if summary["corrupt_files"] else ""
    return (f"{summary['documents_in']:,} records in, {summary['documents_out']:,} out; removed: "
            f"{_counts(summary['removed'])}; redacted: {_counts(summary['redacted'])}; bad records: "
            f"{_counts(summary['bad'])}{corrupt}")


def write_json_atomically(data: dict, path: str) -> None:
    publish.write_text(Path(path), json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n")
