"""The command line and the library under it: help, refused combinations, the task registry, an
evaluation without argparse, and which checkpoints --run takes."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from megatron_sc2.checkpoint import complete_iterations, iteration_dir, write_marker
from megatron_sc2.evaluation import cli
from megatron_sc2.evaluation import evaluate as evaluate_module
from megatron_sc2.evaluation import follow as follow_module
from megatron_sc2.evaluation.evaluate import ConfigError, EvalConfig
from megatron_sc2.evaluation.follow import evaluated_iterations, metrics_record
from megatron_sc2.evaluation.tasks import TASKS, HumanEval, make_task

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
        iteration_dir(tmp_path, iteration).mkdir()
    assert complete_iterations(tmp_path) == []  # no marker yet: nothing is complete
    write_marker(tmp_path, 4)
    assert complete_iterations(tmp_path) == [2, 4]  # iter 6 is still being written

    metrics = tmp_path / "metrics.jsonl"
    record = metrics_record(2, 512, {"humaneval": {"pass@1": 0.5, "n": 1, "problems": 3, "k": [1]}})
    assert record == {"iteration": 2, "consumed_tokens": 512, "eval/humaneval/pass@1": 0.5}
    metrics.write_text('{"iteration": 2, "loss": 3.0}\n' + json.dumps(record) + "\n{partial")
    assert evaluated_iterations(metrics) == {2}


def main(capsys, *args) -> tuple[int, str]:
    """tools/evaluate.py in this process: (exit status, stderr)."""
    try:
        status = cli.main([*map(str, args), "--no-progress"])
    except SystemExit as e:  # argparse
        status = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return status, err


@pytest.fixture
def completions(tmp_path) -> Path:
    path = tmp_path / "completions.jsonl"
    path.write_text("".join(json.dumps({"task_id": f"HumanEval/{i}", "completion": "    pass\n"}) + "\n"
                            for i in range(3)))
    return path


@pytest.fixture
def nothing_runs(monkeypatch):
    """Scoring fails the test: what is checked must be refused before any program runs."""
    def score(*args, **kwargs):
        raise AssertionError("a task was scored before the refusal")

    monkeypatch.setattr(evaluate_module, "score", score)


@pytest.mark.parametrize("value", [5, None, ["x"]])
def test_a_completion_that_is_not_a_string_is_one_line(tmp_path, capsys, value):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps({"task_id": "HumanEval/0", "completion": value}) + "\n")
    status, err = main(capsys, "--completions", path, "--tasks", "humaneval", "--limit", 1,
                       "--output", tmp_path / "out")
    assert status == 2
    assert err.strip().splitlines()[-1] == (
        f"evaluate: error: --completions {path}:1: completion is {json.dumps(value)}, not a string")


def test_a_repeated_task_id_is_refused(tmp_path, capsys, completions):
    with open(completions, "a") as f:
        f.write(json.dumps({"task_id": "HumanEval/1", "completion": "    pass\n"}) + "\n")
    status, err = main(capsys, "--completions", completions, "--tasks", "humaneval", "--limit", 3,
                       "--output", tmp_path / "out")
    assert status == 2 and err.strip().splitlines()[-1] == (
        f"evaluate: error: --completions {completions}: humaneval HumanEval/1 has 2 samples, most problems 1: every "
        "problem needs the same number (a repeated task_id?)")


def test_an_empty_task_list_is_refused(tmp_path, capsys, completions):
    status, err = main(capsys, "--completions", completions, "--tasks", ",", "--output", tmp_path / "out")
    assert status == 2 and "argument --tasks: give at least one value" in err


def test_an_unknown_task_is_named_before_anything_runs(tmp_path, capsys, completions, nothing_runs):
    status, err = main(capsys, "--completions", completions, "--tasks", "humaneval,nonsense", "--limit", 3,
                       "--allow-code-execution", "--output", tmp_path / "out")
    assert status == 2 and "unknown task 'nonsense'" in err


def test_an_output_that_is_a_file_is_refused_before_anything_runs(tmp_path, capsys, completions, nothing_runs):
    output = tmp_path / "results"
    output.write_text("")
    status, err = main(capsys, "--completions", completions, "--tasks", "humaneval", "--limit", 3,
                       "--allow-code-execution", "--output", output)
    assert status == 2 and f"--output {output} is a file: give a folder for the results" in err


def test_the_output_may_not_overwrite_the_completions(tmp_path, capsys, completions):
    output = tmp_path / "eval"
    output.mkdir()
    given = output / "samples.jsonl"
    given.write_text(completions.read_text())
    status, err = main(capsys, "--completions", given, "--tasks", "humaneval", "--limit", 3, "--output", output)
    assert status == 2 and f"--output {output} would overwrite --completions {given}" in err
    assert given.read_text() == completions.read_text()


@pytest.mark.parametrize("flag, value", [("--timeout", "0"), ("--timeout", "-5"), ("--memory-mb", "0")])
def test_nonpositive_execution_limits_are_refused(tmp_path, capsys, completions, nothing_runs, flag, value):
    status, err = main(capsys, "--completions", completions, "--tasks", "humaneval", "--limit", 3,
                       "--allow-code-execution", flag, value, "--output", tmp_path / "out")
    assert status == 2 and f"argument {flag}: must be positive, not {value}" in err


def test_a_notice_says_execution_metrics_were_skipped(tmp_path, capsys, completions):
    status, err = main(capsys, "--completions", completions, "--tasks", "humaneval", "--limit", 3,
                       "--output", tmp_path / "out")
    assert status == 0
    assert "without --allow-code-execution no program runs, so no pass@k for humaneval" in err


def test_a_byte_order_mark_is_accepted(tmp_path, capsys, completions):
    completions.write_bytes(b"\xef\xbb\xbf" + completions.read_bytes())
    status, err = main(capsys, "--completions", completions, "--tasks", "humaneval", "--limit", 3,
                       "--output", tmp_path / "out")
    assert status == 0, err
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["metrics"]["humaneval"]["problems"] == 3


def test_a_missing_completions_file_is_one_line(tmp_path, capsys):
    status, err = main(capsys, "--completions", tmp_path / "nope.jsonl", "--tasks", "humaneval",
                       "--output", tmp_path / "out")
    assert status == 2
    assert err.strip() == f"evaluate: error: --completions {tmp_path / 'nope.jsonl'}: No such file or directory"


def test_watch_ends_in_one_line_when_the_run_folder_is_deleted(tmp_path, capsys, monkeypatch):
    run = tmp_path / "ckpt"
    run.mkdir()

    def sleep(seconds):  # the first wait removes the folder; a second one means the follower waits forever
        assert run.exists(), "--watch still waiting on a deleted folder"
        run.rmdir()

    monkeypatch.setattr(follow_module, "time", SimpleNamespace(sleep=sleep))
    status, err = main(capsys, "--run", run, "--tokenizer-model", tmp_path, "--metrics-file", tmp_path / "m.jsonl",
                       "--watch", "--tasks", "humaneval", "--output", tmp_path / "eval")
    assert status == 2 and err.strip() == f"evaluate: error: --run {run}: no such checkpoint folder"


def test_the_cli_builds_the_config_a_library_user_gets_by_default():
    args = cli.build_parser().parse_args(["--model", "hf", "--output", "eval"])
    assert EvalConfig(**vars(args)) == EvalConfig(model=Path("hf"), output=Path("eval"))
    assert list(EvalConfig(model=Path("hf"), output=Path("eval")).options()) == list(vars(args))  # summary.json


def test_a_config_that_does_not_go_together_is_refused_without_argparse(tmp_path):
    with pytest.raises(ConfigError, match="give exactly one of --model, --completions and --run"):
        EvalConfig(output=tmp_path)
    with pytest.raises(ConfigError, match="--run needs --tokenizer-model and --metrics-file"):
        EvalConfig(run=tmp_path, output=tmp_path)
    with pytest.raises(ConfigError, match="n identical samples"):
        EvalConfig(model=tmp_path, n_samples=5, temperature=0.0, output=tmp_path)
    assert EvalConfig(model=tmp_path, n_samples=5, output=tmp_path).temperature == 0.2


def test_every_registered_task_is_offered_and_made_by_its_name(tmp_path):
    assert f"comma-separated: {', '.join(TASKS)} (default: humaneval)" in " ".join(evaluate("--help").stdout.split())
    for name in ("humaneval", "humaneval-infill", "humaneval-infill-spm"):
        assert make_task(name, None).name == name
    assert make_task("perplexity", None) is None
    for name in ("mbpp", "multiple-js"):
        with pytest.raises(ValueError, match=f"--tasks {name} reads its file from --data-dir DIR"):
            make_task(name, None)


@pytest.mark.timeout(300)
def test_a_library_user_evaluates_without_argparse_as_the_cli_does(tmp_path, capsys):
    oracle = tmp_path / "oracle.jsonl"
    oracle.write_text("".join(json.dumps({"task_id": p.task_id, "completion": p.data["canonical_solution"]}) + "\n"
                              for p in HumanEval().problems()[:3]))
    output = tmp_path / "eval"
    summary = evaluate_module.evaluate(EvalConfig(completions=oracle, tasks=["humaneval"], limit=3,
                                                  allow_code_execution=True, output=output, no_progress=True))
    assert summary["metrics"]["humaneval"]["pass@1"] == 1.0
    library = (output / "summary.json").read_text(), (output / "samples.jsonl").read_text()
    assert json.loads(library[0]) == summary

    status, err = main(capsys, "--completions", oracle, "--tasks", "humaneval", "--limit", 3,
                       "--allow-code-execution", "--output", output)
    assert status == 0, err
    assert ((output / "summary.json").read_text(), (output / "samples.jsonl").read_text()) == library


def test_an_infinite_timeout_is_refused(tmp_path, capsys, completions, nothing_runs):
    status, err = main(capsys, "--completions", completions, "--tasks", "humaneval", "--limit", 3,
                       "--allow-code-execution", "--timeout", "inf", "--output", tmp_path / "out")
    assert status == 2 and "argument --timeout: must be a positive finite number, not inf" in err


def test_more_workers_than_sandbox_uids_are_refused(tmp_path, capsys, completions, nothing_runs):
    status, err = main(capsys, "--completions", completions, "--tasks", "humaneval", "--limit", 3,
                       "--allow-code-execution", "--workers", 2000, "--output", tmp_path / "out")
    assert status == 2 and "--workers 2000: at most 1024 programs run at once (one sandbox uid each)" in err
    assert "held by other evaluations" not in err


VLLM_MISSING = "--backend vllm: vLLM is not installed (pip install vllm, on a machine with CUDA GPUs)"
NO_GPU = "--backend vllm runs on CUDA GPUs and this machine has none: use --backend hf"


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_the_vllm_backend_without_vllm_is_one_line_before_the_model_loads(tmp_path, capsys):
    status, err = main(capsys, "--model", tmp_path / "absent", "--backend", "vllm", "--output", tmp_path / "out")
    assert status == 2 and err.strip().splitlines()[-1] == f"evaluate: error: {VLLM_MISSING}"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA GPU is visible here")
def test_the_vllm_backend_without_a_gpu_is_one_line_before_the_model_loads(tmp_path, capsys, monkeypatch):
    (tmp_path / "site" / "vllm").mkdir(parents=True)  # an installed package named vllm, as far as Python looks
    (tmp_path / "site" / "vllm" / "__init__.py").write_text("raise AssertionError('vllm was imported')\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    status, err = main(capsys, "--model", tmp_path / "absent", "--backend", "vllm", "--output", tmp_path / "out")
    assert status == 2 and err.strip().splitlines()[-1] == f"evaluate: error: {NO_GPU}"


def test_vllm_options_that_do_not_go_together_are_refused(tmp_path, capsys):
    status, err = main(capsys, "--model", tmp_path, "--tensor-parallel-size", 2, "--output", tmp_path / "out")
    assert status == 2 and "--tensor-parallel-size splits the model over GPUs under vLLM: give --backend vllm" in err
    status, err = main(capsys, "--model", tmp_path, "--backend", "vllm", "--tasks", "humaneval,perplexity",
                       "--perplexity-data", tmp_path, "--output", tmp_path / "out")
    assert status == 2 and "--tasks perplexity scores through transformers: evaluate it with --backend hf" in err
