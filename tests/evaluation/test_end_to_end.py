"""From a tiny checkpoint that pretrain wrote, on CPU: generation through transformers, perplexity,
the library's evaluate(EvalConfig) scoring as tools/evaluate.py does, and `--run` appending eval/
metrics that tools/plot_metrics.py draws beside the loss."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from pretrain_runs import base_args, pretrain, read_metrics

from megatron_sc2.conversion import export_to_hf
from megatron_sc2.evaluation.evaluate import EvalConfig, evaluate

REPO = Path(__file__).resolve().parents[2]
TRAIN = ["--global-batch-size", 4, "--seq-length", 64, "--split", "1,0,0", "--lr", 3e-3, "--min-lr", 3e-4,
         "--lr-warmup-iters", 0, "--train-iters", 4, "--save-interval", 2]


def run_tool(*args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=REPO,
                            check=False, timeout=1200)
    assert not check or result.returncode == 0, f"{args[0]} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def run(training_data, tmp_path_factory) -> dict:
    """sc2-tiny trained 4 steps on one CPU process, checkpoints at iterations 2 and 4."""
    root = tmp_path_factory.mktemp("run")
    (root / "train").mkdir()
    pretrain(1, base_args(training_data, root / "train", *TRAIN, "--save", root / "ckpt"))
    export_to_hf(root / "ckpt", root / "hf", tokenizer_model=training_data["tokenizer"], progress=False)
    return {"root": root, "data": training_data, "corpus": training_data["corpus"]}


@pytest.mark.slow
def test_batched_greedy_generation_equals_one_prompt_at_a_time(run):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from megatron_sc2.evaluation.generation import GenerationConfig, Generator

    prompts = ["def f(x):\n", "import json\n\n\ndef load(path):\n    with open(path) as f:\n", "class A:\n    "]
    stops = [("\ndef",)] * 3
    generator = Generator(run["root"] / "hf", "cpu")
    batched = generator.generate(prompts, stops, GenerationConfig(max_new_tokens=12, batch_size=3))
    again = generator.generate(prompts, stops, GenerationConfig(max_new_tokens=12, batch_size=2))
    assert batched == again  # deterministic, whatever the batching
    tokenizer = AutoTokenizer.from_pretrained(run["root"] / "hf")
    model = AutoModelForCausalLM.from_pretrained(run["root"] / "hf").eval()
    for prompt, text in zip(prompts, batched):
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            alone = model.generate(ids, max_new_tokens=12, do_sample=False)
        expected = tokenizer.decode(alone[0, ids.shape[1]:], skip_special_tokens=False)
        # Each row stops at its own stop string: the text is the single run's, up to the stop if one came.
        assert expected.startswith(text) and (text == expected or "\ndef" in text), (prompt, text, expected)
    assert generator.stats.samples == 6 and generator.stats.new_tokens > 0

    sampling = GenerationConfig(max_new_tokens=12, batch_size=4, temperature=0.8, top_p=0.95, seed=3)
    drawn = generator.generate(prompts * 4, stops * 4, sampling)
    assert drawn == generator.generate(prompts * 4, stops * 4, sampling)  # the seed fixes the draw
    assert len({text for text in drawn[::3]}) > 1  # four samples of one prompt are not all alike


@pytest.mark.slow
def test_model_evaluation_writes_summary_with_perplexity_and_humaneval(run, tmp_path):
    out = tmp_path / "eval"
    run_tool("tools/evaluate.py", "--model", run["root"] / "hf", "--tasks", "humaneval,humaneval-infill,perplexity",
             "--limit", 3, "--max-new-tokens", 16, "--allow-code-execution", "--perplexity-data", run["data"]["prefix"],
             "--seq-length", 64, "--perplexity-tokens", 2000, "--output", out, "--no-progress")
    summary = json.loads((out / "summary.json").read_text())
    metrics = summary["metrics"]
    assert metrics["humaneval"]["problems"] == 3 and 0.0 <= metrics["humaneval"]["pass@1"] <= 1.0
    assert 0.0 <= metrics["humaneval-infill"]["exact_match"] <= 1.0
    ppl = metrics["perplexity"]
    assert ppl["tokens"] == 64 * (2000 // 64) and ppl["perplexity"] < 1024  # trained: better than uniform
    assert ppl["bits_per_byte"] > 0
    assert len(summary["model"]["weights_sha256"]) == 64 and summary["git_commit"]
    assert summary["generation"]["samples"] == 3 + 3 and summary["generation"]["tokens_per_s"] > 0
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert len(samples) == 6 and all("passed" in s for s in samples)

    library = evaluate(EvalConfig(model=run["root"] / "hf", tasks=("humaneval", "humaneval-infill", "perplexity"),
                                  limit=3, max_new_tokens=16, allow_code_execution=True,
                                  perplexity_data=str(run["data"]["prefix"]), seq_length=64, perplexity_tokens=2000,
                                  output=tmp_path / "library", no_progress=True))
    assert library["metrics"] == metrics  # the same evaluation as tools/evaluate.py's, without argparse
    assert (tmp_path / "library" / "samples.jsonl").read_text() == (out / "samples.jsonl").read_text()

    jsonl = run_tool("tools/evaluate.py", "--model", run["root"] / "hf", "--tasks", "perplexity",
                     "--perplexity-data", run["corpus"], "--seq-length", 64, "--perplexity-tokens", 1000,
                     "--output", tmp_path / "jsonl", "--no-progress")
    assert json.loads((tmp_path / "jsonl" / "summary.json").read_text())["metrics"]["perplexity"]["tokens"] > 0, jsonl


@pytest.mark.slow
def test_following_the_run_appends_metrics_the_plot_reads(run, tmp_path):
    metrics_file = tmp_path / "metrics.jsonl"
    metrics_file.write_text((run["root"] / "train" / "metrics.jsonl").read_text())
    follow = ["tools/evaluate.py", "--run", run["root"] / "ckpt", "--tokenizer-model", run["data"]["tokenizer"],
              "--metrics-file", metrics_file, "--suite", "starcoder2", "--limit", 2,  # no --data-dir: humaneval*
              "--max-new-tokens", 8, "--allow-code-execution", "--output", tmp_path / "eval", "--no-progress"]
    run_tool(*follow)
    evals = [r for r in read_metrics(metrics_file) if "eval/humaneval/pass@1" in r]
    assert [r["iteration"] for r in evals] == [2, 4]
    assert all(r["consumed_tokens"] == r["iteration"] * 4 * 64 for r in evals)
    assert all(0 <= r["eval/humaneval-infill/exact_match"] <= 1 for r in evals)
    assert (tmp_path / "eval" / "iter_0000004" / "summary.json").is_file()

    again = run_tool(*follow)  # a restarted follower skips what is done
    assert "no new complete checkpoint" in again.stdout
    assert len([r for r in read_metrics(metrics_file) if "eval/humaneval/pass@1" in r]) == 2

    sys.path.insert(0, str(REPO / "tools"))
    import plot_metrics

    series = plot_metrics.read_evals(metrics_file)
    assert [tokens for tokens, _ in series["humaneval/pass@1"]] == [512, 1024]
    run_tool("tools/plot_metrics.py", metrics_file, "-o", tmp_path / "plot.png")
    assert (tmp_path / "plot.png").stat().st_size > 0
