"""The command line: help, refused combinations, and which checkpoints --run takes."""

import json
import subprocess
import sys
from pathlib import Path

from megatron_sc2.evaluation.follow import complete_iterations, evaluated_iterations, metrics_record

REPO = Path(__file__).resolve().parents[2]


def evaluate(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "tools/evaluate.py", *map(str, args)], capture_output=True, text=True,
                          cwd=REPO, check=False, timeout=300)


def test_help_explains_protocol_and_safety():
    result = evaluate("--help")
    assert result.returncode == 0
    for words in ("bigcode-evaluation-harness", "--allow-code-execution", "bubblewrap", "--run", "examples:"):
        assert words in result.stdout


def test_refused_combinations_say_what_to_do(tmp_path):
    assert "unrecognized arguments: --allow" in evaluate("--completions", "x", "--output", tmp_path, "--allow").stderr
    assert "--run needs --tokenizer-model and --metrics-file" in evaluate("--run", tmp_path, "--output", tmp_path).stderr
    greedy = evaluate("--model", tmp_path, "--output", tmp_path, "--n-samples", 5, "--temperature", 0)
    assert "n identical samples" in greedy.stderr
    no_model = evaluate("--model", tmp_path, "--output", tmp_path / "out", "--tasks", "humaneval-infill")
    assert no_model.returncode == 2 and "not a Hugging Face model folder" in no_model.stderr


def test_run_takes_checkpoints_up_to_the_marker_and_skips_evaluated_ones(tmp_path):
    for iteration in (2, 4, 6):
        (tmp_path / f"iter_{iteration:07d}").mkdir()
    assert complete_iterations(tmp_path) == []  # no marker yet: nothing is complete
    (tmp_path / "latest_checkpointed_iteration.txt").write_text("4\n")
    assert complete_iterations(tmp_path) == [2, 4]  # iter 6 is still being written

    metrics = tmp_path / "metrics.jsonl"
    record = metrics_record(2, 512, {"humaneval": {"pass@1": 0.5, "n": 1, "problems": 3, "k": [1]}})
    assert record == {"iteration": 2, "consumed_tokens": 512, "eval/humaneval/pass@1": 0.5}
    metrics.write_text('{"iteration": 2, "loss": 3.0}\n' + json.dumps(record) + "\n{partial")
    assert evaluated_iterations(metrics) == {2}
