"""tools/render_sources.py end to end on planted records of each source: rendered records, removals by reason in
stats.json, the same output for the same seed, and one line for bad input."""

import json
import subprocess
import sys
from pathlib import Path

import planted
import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
TOOL = REPO_ROOT / "tools" / "render_sources.py"


def write_records(folder: Path, records: list[dict]) -> Path:
    folder.mkdir(parents=True)
    with (folder / "part-0.jsonl").open("w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
    return folder


def render_sources(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(TOOL), *map(str, args), "--workers", "1"], capture_output=True, check=False,
                          text=True, cwd=REPO_ROOT)


def rendered(output: Path) -> list[dict]:
    return [json.loads(line) for path in sorted((output / "data").glob("*.jsonl"))
            for line in path.read_text().splitlines()]


def test_pull_requests_are_rendered_and_removals_counted(tmp_path):
    records = planted.pr_cases() + [planted.pull_request(20, repo="Optout/x")]
    bot = planted.pull_request(21)
    bot["events"][0]["actor.is_bot"] = True
    lonely = planted.pull_request(22)
    lonely["events"] = [e for e in lonely["events"] if e["type"] != "PullRequestCommitEvent"]
    rebased = planted.pull_request(23, merged=False)  # a merge may add one base; this one is approved
    rebased["events"][-2]["base_commit_id"] = "another-base"
    gpl = dict(planted.pull_request(24), license_type="non_permissive")
    data = write_records(tmp_path / "in", records + [bot, lonely, rebased, gpl])
    (tmp_path / "opt-out.txt").write_text("optout\n")
    result = render_sources("--source", "prs", "--input", data, "--output", tmp_path / "out", "--seed", 3,
                            "--opt-out", tmp_path / "opt-out.txt", "--set", "subsample_per_repo=False")
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["removed"] == {
        "short_title": 1, "dependency_title": 1, "unapproved": 1, "opted_out": 1, "bot": 1, "no_diff": 1,
        "base_changed": 1, "non_permissive": 1,
    }
    out = rendered(tmp_path / "out")
    assert len(out) == stats["documents_out"] == 6
    assert {r["id"] for r in out} >= {"octo/widgets/pull/1", "octo/gadgets/pull/6"}
    for record in out:
        assert record["content"].startswith("<pr>Title: ") and "<pr_diff_hunk>" in record["content"]
        assert "alice" not in record["content"] and "Why return None here, username_0?" in record["content"]
    assert not (tmp_path / "out" / "work").exists()


def test_the_same_seed_renders_the_same_text_and_another_seed_other_text(tmp_path):
    data = write_records(tmp_path / "in", [planted.pull_request(n, pr_count=300) for n in range(30, 42)])
    texts = {}
    for name, seed in (("a", 5), ("b", 5), ("c", 6)):
        result = render_sources("--source", "prs", "--input", data, "--output", tmp_path / name, "--seed", seed,
                                "--tasks", 2 if name == "b" else 1)
        assert result.returncode == 0, result.stderr
        texts[name] = sorted((r["id"], r["content"]) for r in rendered(tmp_path / name))
    assert texts["a"] == texts["b"]
    assert texts["a"] != texts["c"]
    stats = json.loads((tmp_path / "a" / "stats.json").read_text())
    assert 0 < stats["removed"].get("subsampled", 0) < 12  # retention 0.59 at 300 pull requests per repository


def test_issues_and_stackexchange_are_rendered(tmp_path):
    issues = write_records(tmp_path / "issues", planted.issue_cases())
    result = render_sources("--source", "issues", "--input", issues, "--output", tmp_path / "i")
    assert result.returncode == 0, result.stderr
    stats = json.loads((tmp_path / "i" / "stats.json").read_text())
    assert stats["removed"] == {"bot_issue": 1, "too_short": 3, "single_user_too_many_events": 1,
                                "single_user_too_long": 1}
    out = {r["id"]: r["content"] for r in rendered(tmp_path / "i")}
    assert out[10].startswith("<issue_start>Title: Crash when loading file 10\nusername_0: Loading a file")
    assert out[10].count("<issue_comment>username_") == 2 and out[10].endswith("<issue_closed>")
    assert "travis" not in out[12] and "[Truncated]" in out[15]

    questions = write_records(tmp_path / "questions", [planted.question(n) for n in range(3)])
    result = render_sources("--source", "stackexchange", "--input", questions, "--output", tmp_path / "q")
    assert result.returncode == 0, result.stderr
    for record in rendered(tmp_path / "q"):
        text = record["content"]
        assert text.startswith("<issue_start>username_0: How do I sort") and text.count("<issue_comment>") == 3
        assert text.count(" [selected answer]") == 1 and "Upvotes: 9 [selected answer]" in text
        assert "frank" not in text and "gina" not in text


@pytest.mark.parametrize("args, message", [
    (["--set", "nonsense=1"], "--set nonsense=1: prs has no option 'nonsense'"),
    (["--set", "full_base_prob=high"], "--set full_base_prob=high: 'high' is not a Python literal"),
    (["--opt-out", "/nonexistent"], "--opt-out /nonexistent: no such file"),
])
def test_bad_options_end_in_one_line(tmp_path, args, message):
    data = write_records(tmp_path / "in", [planted.pull_request(1)])
    result = render_sources("--source", "prs", "--input", data, "--output", tmp_path / "out", *args)
    assert result.returncode == 2 and result.stderr.strip().startswith(f"render_sources.py: {message}")
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_input_publishes_nothing(tmp_path):
    data = write_records(tmp_path / "in", [planted.pull_request(1)])
    (data / "part-0.jsonl").write_text("not json\n" * 5 + json.dumps(planted.pull_request(1)) + "\n")
    result = render_sources("--source", "prs", "--input", data, "--output", tmp_path / "out")
    assert result.returncode == 2
    assert result.stderr.strip().startswith(f"render_sources.py: --input {data}: 5 of 6 records are bad")
    assert not (tmp_path / "out" / "data").exists()
    again = render_sources("--source", "prs", "--input", data, "--output", tmp_path / "out")
    assert again.stderr.strip() == f"render_sources.py: --output {tmp_path / 'out'} is not empty: choose a new folder"


@pytest.mark.parametrize("source", ["jupyter-structured", "jupyter-scripts", "kaggle", "ir"])
def test_document_sources_render_through_the_tool_as_their_modules_do(tmp_path, source):
    """The registry's adapter: the tool keeps what the module's filter keeps, counts the rest by its reason,
    and writes the module's own text for each record."""
    import random

    import notebook_planted

    from megatron_sc2.sources import SOURCES, blocks

    raw = {"jupyter-structured": notebook_planted.NOTEBOOKS, "jupyter-scripts": notebook_planted.NOTEBOOKS,
           "kaggle": notebook_planted.KAGGLE, "ir": notebook_planted.IR}[source]
    records = [({"content": value} if isinstance(value, str) else dict(value)) | {"id": name}
               for name, value in raw.items()]
    result = render_sources("--source", source, "--input", write_records(tmp_path / "in", records), "--output",
                            tmp_path / "out", "--seed", 5)
    assert result.returncode == 0, result.stderr
    spec, expected, removed = SOURCES[source], {}, {}
    options = spec.options()
    (check,) = spec.filters(options)
    for record in records:
        try:
            check(record, random.Random(0))
        except blocks.Drop as drop:
            removed[drop.reason] = removed.get(drop.reason, 0) + 1
            continue
        rng = blocks.record_rng(5, "render", record["id"])
        expected[record["id"]] = spec.render(record, rng, options)[0]
    assert expected and removed  # the planted records hold both kinds
    assert {r["id"]: r["content"] for r in rendered(tmp_path / "out")} == expected
    assert json.loads((tmp_path / "out" / "stats.json").read_text())["removed"] == removed
