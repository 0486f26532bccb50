"""`python -m megatron_sc2.pretrain ... --dry-run` as a user runs it: every problem of a launch at
once, one line each, and the launchers' DRY_RUN=1 plan with its JSON."""

import json
import os
import subprocess
import sys

import pytest
from forked_python import run_python

from megatron_sc2.support import REPO


def environment(**env) -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1", **env}


def plan(*args) -> subprocess.CompletedProcess:
    """`python -W ignore -m megatron_sc2.pretrain ARGS`, forked warm (its imports are not under test)."""
    return run_python(["-W", "ignore", "-m", "megatron_sc2.pretrain", *args], REPO, environment())


def test_every_problem_of_a_launch_is_listed_at_once_one_line_each(tmp_path):
    result = plan("--config", "examples/configs/sc2-15b.yaml", "--data-path", "1", f"{tmp_path}/a", "2",
                  f"{tmp_path}/b", "--tokenizer-model", f"{tmp_path}/tokenizer", "--save", str(tmp_path),
                  "--tensor-model-parallel-size", "8", "--pipeline-model-parallel-size", "3",
                  "--num-layers-per-virtual-pipeline-stage", "7", "--seq-length", "32768", "--dry-run",
                  "--world-size", "1000")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines() == [
        "invalid pretraining configuration:",
        "  - --tensor-model-parallel-size 8 must divide the 4 KV groups (num_query_groups); use one of [1, 2, 4]",
        ("  - 40 layers cannot be split evenly into 3 pipeline stages; use a pipeline size (times virtual stages) "
         "among [1, 2, 4, 5, 8, 10, 20, 40]"),
        ("  - world size 1000 is not divisible by tensor x pipeline parallel size 8 x 3; launch a multiple of 24 "
         "processes or change the layout"),
        "  - stage base-4k: seq_length 32768 exceeds the model's max_position_embeddings 16384",
        "  - stage long-context-16k: seq_length 32768 exceeds the model's max_position_embeddings 16384",
        f"  - --tokenizer-model {tmp_path}/tokenizer: no such file or folder",
        f"  - --data-path {tmp_path}/a: no {tmp_path}/a.bin or {tmp_path}/a.idx (tools/preprocess_data.py writes them)",
        f"  - --data-path {tmp_path}/b: no {tmp_path}/b.bin or {tmp_path}/b.idx (tools/preprocess_data.py writes them)",
    ]


def test_a_global_batch_that_micro_batch_times_data_parallel_does_not_divide_is_named_per_stage(training_data,
                                                                                                tmp_path):
    result = plan("--config", "examples/configs/sc2-15b.yaml", "--data-path", str(training_data["prefix"]),
                  "--tokenizer-model", str(training_data["tokenizer"]), "--save", str(tmp_path),
                  "--micro-batch-size", "3", "--dry-run", "--world-size", "1024")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[1:] == [
        f"  - stage {name}: global batch {batch} is not a multiple of micro batch 3 x data parallel 256 = 768"
        for name, batch in (("base-4k", 1024), ("long-context-16k", 256))]


def launcher(script: str, *args, **env) -> subprocess.CompletedProcess:
    """`DRY_RUN=1 examples/SCRIPT ARGS` with only `env` of the launcher's variables set."""
    base = {k: v for k, v in environment().items() if k not in ("DATA_PATH", "TOKENIZER_MODEL", "CHECKPOINT_DIR")}
    return subprocess.run([f"examples/{script}", *args], capture_output=True, text=True, cwd=REPO, timeout=600,
                          check=False, env={**base, "DRY_RUN": "1", "PYTHON": sys.executable, **env})


def test_the_launcher_plans_its_own_world_size_and_names_what_does_not_fit(training_data, tmp_path):
    """3B on 2 nodes of 30 GiB GPUs, planned before any data exists: the 4k stage fits, the 16k stage does
    not; the change that fits is planned, and the JSON is written either way."""
    result = launcher("pretrain_sc2_3b.sh", "--gpu-memory-gib", "30", NNODES="2",
                      TOKENIZER_MODEL=str(training_data["tokenizer"]), PLAN_OUTPUT=str(tmp_path / "plan.json"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    plan = json.loads((tmp_path / "plan.json").read_text())
    assert plan["world_size"] == 16 and plan["layout"]["data_parallel"] == 8 and not plan["fits"]
    assert [stage["name"] for stage in plan["stages"]] == ["base-4k", "long-context-16k"]
    terms = ("weights", "grads", "optimizer", "activations", "logits")
    totals = []
    for stage in plan["stages"]:
        (rank,) = stage["pipeline_ranks"]
        assert abs(rank["memory_gib"]["total"] - sum(rank["memory_gib"][t] for t in terms)) < 0.005
        totals.append(rank["memory_gib"]["total"])
    assert totals[0] < 30 < totals[1]
    (problem,) = plan["problems"]
    assert problem.startswith(f"stage long-context-16k, pipeline rank 0 of 1: needs {totals[1]:.1f} GiB per GPU of 30")
    assert plan["advice"].startswith("fits with --recompute-granularity full: ")
    vocab = len(json.loads(training_data["tokenizer"].joinpath("tokenizer.json").read_text())["model"]["vocab"])
    assert plan["vocab_size"] == vocab and plan["not_checked"] == ["--data-path", "--save"]
    assert result.stdout.splitlines()[:3] == [
        ("plan: 16 GPUs of 30 GiB; TP 2 x PP 1 x DP 8, sequence parallel, selective recompute, distributed optimizer, "
        "micro batch 1; flash/fused attention (GPU)"),
        (f"parameters: {plan['total_parameters']:,} in all, with a vocabulary of {vocab:,} (the size of "
        f"--tokenizer-model {training_data['tokenizer']})"),
        "not given, so not checked: --data-path, --save"]
    assert result.stdout.rstrip().endswith(f"does not fit:\n  - {problem}\n{plan['advice']}")


def test_a_plan_needs_only_the_model_and_layout_and_plans_the_change_that_fits(tmp_path):
    """No data, tokenizer or checkpoint folder: the model's own vocabulary, said so. 3B on 2 GPUs of 45 GiB
    needs more for its weights, gradients and optimizer than for activations, yet full recompute fits."""
    result = plan("--config", "examples/configs/sc2-3b.yaml", "--dry-run", "--world-size", "2", "--gpu-memory-gib",
                  "45", "--plan-output", str(tmp_path / "plan.json"))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    planned = json.loads((tmp_path / "plan.json").read_text())
    assert planned["vocab_size"] == 49152 and planned["not_checked"] == ["--data-path", "--tokenizer-model", "--save"]
    assert result.stdout.splitlines()[1:3] == [
        (f"parameters: {planned['total_parameters']:,} in all, with a vocabulary of 49,152 (the model's default; no "
        "--tokenizer-model given, whose size a launch takes unless --vocab-size is set)"),
        "not given, so not checked: --data-path, --tokenizer-model, --save"]
    (rank,) = planned["stages"][1]["pipeline_ranks"]
    memory = rank["memory_gib"]
    assert memory["weights"] + memory["grads"] + memory["optimizer"] > memory["activations"] + memory["logits"]
    assert planned["advice"].startswith("fits with --recompute-granularity full: ")


def test_a_placeholder_tokenizer_is_one_line():
    result = plan("--config", "examples/configs/sc2-3b.yaml", "--tokenizer-model", "README.md", "--dry-run",
                  "--world-size", "16")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        ("error: README.md is not a Hugging Face tokenizer.json (expected value at line 1 column 1): give "
        "--tokenizer-model a tokenizer.json or a folder with one")]


def test_planning_option_errors_come_with_the_launchs_errors_in_one_round():
    result = plan("--config", "examples/configs/sc2-15b.yaml", "--tensor-model-parallel-size", "5", "--dry-run",
                  "--world-size", "1030", "--gpu-memory-gib", "nan", "--assumed-mfu", "1.5")
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "invalid planning options:",
        "  - --gpu-memory-gib nan must be a number above 0",
        "  - --assumed-mfu 1.5 must be in (0, 1]",
        "invalid pretraining configuration:",
        "  - --tensor-model-parallel-size 5 must divide the 4 KV groups (num_query_groups); use one of [1, 2, 4]",
        "  - stage base-4k: global batch 1024 is not a multiple of micro batch 1 x data parallel 206 = 206",
        "  - stage long-context-16k: global batch 256 is not a multiple of micro batch 1 x data parallel 206 = 206",
    ]


@pytest.mark.parametrize("memory", ["inf", "-1", "0"])
def test_gpu_memory_must_be_a_number_above_zero(memory):
    result = plan("--config", "examples/configs/sc2-3b.yaml", "--dry-run", "--world-size", "16", "--gpu-memory-gib",
                  memory)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "invalid planning options:", f"  - --gpu-memory-gib {float(memory):g} must be a number above 0"]


def test_an_unwritable_plan_output_is_named_before_planning(tmp_path):
    (tmp_path / "file").write_text("")
    result = plan("--config", "examples/configs/sc2-3b.yaml", "--dry-run", "--world-size", "16", "--plan-output",
                  str(tmp_path / "file" / "plan.json"))
    assert result.returncode == 1 and result.stdout == ""  # nothing planned
    assert result.stderr.strip().splitlines()[1:] == [
        f"  - --plan-output {tmp_path / 'file' / 'plan.json'}: {tmp_path / 'file'} is a file, not a folder"]
    result = plan("--config", "examples/configs/sc2-3b.yaml", "--dry-run", "--world-size", "16", "--plan-output",
                  str(tmp_path))
    assert result.stderr.strip().splitlines()[1:] == [
        f"  - --plan-output {tmp_path} is a folder: give a file path, e.g. {tmp_path / 'plan.json'}"]


@pytest.mark.parametrize("variables", [{"NNODES": "1.5"}, {"NNODES": "1e2"}, {"NNODES": "1:1"}, {"NNODES": "08"},
                                       {"GPUS_PER_NODE": "8.0"}, {"NODE_RANK": "1"}, {"MASTER_PORT": "0x10"},
                                       {"DRY_RUN": "yes"}], ids=lambda v: " ".join(f"{k}={x}" for k, x in v.items()))
def test_a_dry_run_with_a_malformed_number_never_launches(tmp_path, variables):
    """A torchrun on PATH that records being started: each case is one line naming the variable, and no launch."""
    (tmp_path / "torchrun").write_text(f"#!/bin/sh\ntouch {tmp_path}/launched\n")
    (tmp_path / "torchrun").chmod(0o755)
    name, value = next(iter(variables.items()))
    result = launcher("pretrain_sc2_15b.sh", PATH=f"{tmp_path}:{os.environ['PATH']}", DATA_PATH=str(tmp_path / "data"),
                      TOKENIZER_MODEL=str(tmp_path), CHECKPOINT_DIR=str(tmp_path / "run"), **variables)
    assert not (tmp_path / "launched").exists(), result.stderr
    assert result.returncode == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"error: {name}={value}: ")
