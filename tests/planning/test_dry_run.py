"""`python -m megatron_sc2.pretrain ... --dry-run` as a user runs it: every problem of a launch at
once, one line each, and the launchers' DRY_RUN=1 plan with its JSON."""

import json
import os
import subprocess
import sys

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


def test_the_launcher_plans_its_own_world_size_and_names_what_does_not_fit(training_data, tmp_path):
    """3B on 2 nodes of 30 GiB GPUs: the 4k stage fits, the 16k stage does not; the JSON is written either way."""
    result = subprocess.run(
        ["examples/pretrain_sc2_3b.sh", "--gpu-memory-gib", "30"], capture_output=True, text=True, cwd=REPO,
        timeout=600, check=False,
        env=environment(DRY_RUN="1", PYTHON=sys.executable, NNODES="2", DATA_PATH=str(training_data["prefix"]),
                        TOKENIZER_MODEL=str(training_data["tokenizer"]), CHECKPOINT_DIR=str(tmp_path / "run"),
                        PLAN_OUTPUT=str(tmp_path / "plan.json")))
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
    assert problem.endswith(": --recompute-granularity full")
    assert result.stdout.startswith("plan: 16 GPUs of 30 GiB; TP 2 x PP 1 x DP 8")
    assert result.stdout.rstrip().endswith(f"does not fit:\n  - {problem}")
