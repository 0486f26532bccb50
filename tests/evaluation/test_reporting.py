"""What an evaluation tells its user: the compile notice, the table's units and --limit, generation
progress while it runs, one evaluation per --output, and a model folder without a tokenizer."""

import json
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from evaluate_tool import main

from megatron_sc2.evaluation import results
from megatron_sc2.evaluation.generation import GenerationConfig, Generator
from megatron_sc2.evaluation.tasks import HumanEval

REPO = Path(__file__).resolve().parents[2]


def oracle(path: Path, count: int) -> Path:
    path.write_text("".join(json.dumps({"task_id": p.task_id, "completion": p.data["canonical_solution"]}) + "\n"
                            for p in HumanEval().problems()[:count]))
    return path


def test_generations_that_do_not_compile_are_not_blamed_on_the_completions_format(parenthesis_model, tmp_path,
                                                                                    capsys):
    status, _, err = main(capsys, "--model", parenthesis_model, "--tasks", "humaneval", "--limit", 2,
                          "--max-new-tokens", 4, "--allow-code-execution", "--output", tmp_path / "eval")
    assert status == 0, err
    assert "completions in the format" not in err
    assert "2 of 2 humaneval generations do not compile" in err


def test_completions_that_do_not_compile_are_asked_about_their_format(tmp_path, capsys):
    path = tmp_path / "broken.jsonl"
    path.write_text("".join(json.dumps({"task_id": f"HumanEval/{i}", "completion": "    return )\n"}) + "\n"
                            for i in range(2)))
    status, _, err = main(capsys, "--completions", path, "--tasks", "humaneval", "--limit", 2,
                          "--allow-code-execution", "--output", tmp_path / "eval")
    assert status == 0, err
    assert "2 of 2 humaneval programs do not compile: are the completions in the format" in err


def test_a_limited_run_says_n_of_m_and_shows_no_paper_figures(tmp_path, capsys):
    status, out, err = main(capsys, "--completions", oracle(tmp_path / "oracle.jsonl", 3), "--tasks", "humaneval",
                            "--limit", 3, "--allow-code-execution", "--output", tmp_path / "eval")
    assert status == 0, err
    assert "3 of 164 problems" in out
    assert "StarCoder2" not in out
    assert json.loads((tmp_path / "eval" / "summary.json").read_text())["metrics"]["humaneval"][
        "benchmark_problems"] == 164


def test_the_table_names_what_each_row_counts():
    table = results.table({
        "humaneval": {"problems": 164, "benchmark_problems": 164, "n": 20, "pass@1": 0.3, "pass@10": 0.5},
        "perplexity": {"loss": 1.0, "perplexity": 2.7, "bits_per_byte": 0.5, "tokens": 4096, "bytes": 10000},
    })
    rows = {tuple(line.split()[:2]): line for line in table.splitlines()}
    assert "164 problems x 20 samples" in rows["humaneval", "pass@1"]
    assert "0.463" in rows["humaneval", "pass@1"]  # the full benchmark: the paper's figures stand beside it
    assert "4,096 tokens" in rows["perplexity", "perplexity"]
    assert "problems" not in rows["perplexity", "perplexity"]


def test_generation_reports_progress_within_a_batch(parenthesis_model):
    generator = Generator(parenthesis_model, "cpu")
    reports = []
    generator.generate(["def f(x):\n", "def g(y):\n"], [("\ndef",)] * 2,
                       GenerationConfig(max_new_tokens=8, batch_size=2), on_progress=reports.append)
    assert len(reports) > 2  # during the batch's decoding steps, not only at its end
    assert sum(reports) == pytest.approx(2)  # in samples: the bar's total


def test_a_model_folder_without_a_tokenizer_is_one_line(parenthesis_model, tmp_path, capsys):
    bare = tmp_path / "bare"
    bare.mkdir()
    for path in parenthesis_model.iterdir():
        if path.name in ("config.json", "generation_config.json") or path.suffix == ".safetensors":
            shutil.copy(path, bare / path.name)
    status, _, err = main(capsys, "--model", bare, "--tasks", "humaneval", "--limit", 1, "--output", tmp_path / "ev")
    assert status == 2
    assert err.strip().splitlines()[-1] == (
        f"evaluate: error: --model {bare}: no tokenizer (tokenizer.json, or vocab.json and merges.txt): export with "
        "--tokenizer-model, or copy the tokenizer's files into the folder")


@pytest.mark.timeout(120)
def test_a_second_evaluation_of_the_same_output_is_refused_naming_the_first(tmp_path):
    """Two evaluations writing one --output would leave only the second's files: the second is refused."""
    slow = tmp_path / "slow.jsonl"
    slow.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    import time\n    time.sleep(4)\n"}) + "\n")
    output = tmp_path / "eval"
    first = subprocess.Popen([sys.executable, "tools/evaluate.py", "--completions", slow, "--tasks", "humaneval",
                              "--limit", "1", "--allow-code-execution", "--timeout", "60", "--output", output,
                              "--no-progress"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (output / ".evaluate.lock").exists() and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    second = subprocess.run([sys.executable, "tools/evaluate.py", "--completions", oracle(tmp_path / "o.jsonl", 1),
                             "--tasks", "humaneval", "--limit", "1", "--output", output, "--no-progress"],
                            cwd=REPO, capture_output=True, text=True, timeout=60, check=False)
    _, err = first.communicate(timeout=60)
    assert first.returncode == 0, err
    assert second.returncode == 2
    line = second.stderr.strip()
    assert "\n" not in line and line.startswith(f"evaluate: error: --output {output} is being written by another "
                                                f"evaluation (host {socket.gethostname()}, pid {first.pid}, since ")
    assert line.endswith("wait for it to end or choose another --output")
    assert json.loads((output / "samples.jsonl").read_text())["completion"].endswith("time.sleep(4)\n")
    assert not (output / ".evaluate.lock").exists()
