"""`--run CKPT_DIR`: evaluate a training run's checkpoints as they are written.

A checkpoint counts once the run's marker (latest_checkpointed_iteration.txt) has reached its
iteration, since training writes the marker last. Each one is exported to a temporary HF folder with
the project's converter, evaluated into --output/iter_NNNNNNN/, and one record is appended to the
run's metrics file: the iteration, consumed tokens, and every metric as `eval/TASK/METRIC`, which
tools/plot_metrics.py draws beside the loss. Iterations already in the metrics file are skipped, so a
restarted follower picks up where it stopped.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from megatron_sc2 import checkpoint
from megatron_sc2.conversion import export_to_hf
from megatron_sc2.evaluation import results
from megatron_sc2.evaluation.evaluate import EvalConfig, evaluate

PREFIX = "eval/"


def evaluated_iterations(metrics_file: Path) -> set[int]:
    done = set()
    if metrics_file.exists():
        for line in metrics_file.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and any(k.startswith(PREFIX) for k in record):
                done.add(record.get("iteration"))
    return done


def metrics_record(iteration: int, consumed_tokens: int | None, metrics: dict) -> dict:
    record = {"iteration": iteration, "consumed_tokens": consumed_tokens}
    for task, values in metrics.items():
        for name, value in values.items():
            if isinstance(value, (int, float)) and name not in ("problems", "benchmark_problems", "n", "tokens", "bytes", "seq_length"):
                record[f"{PREFIX}{task}/{name}"] = value
    return record


def evaluate_checkpoint(config: EvalConfig, iteration: int) -> dict:
    consumed = (checkpoint.read_metadata(config.run, iteration).get("train_state") or {}).get("consumed_tokens")
    with tempfile.TemporaryDirectory(prefix="sc2-eval-export-") as tmp:
        hf = Path(tmp) / "hf"
        export_to_hf(config.run, hf, iteration=iteration, tokenizer_model=config.tokenizer_model, progress=False)
        summary = evaluate(config, hf, config.output / checkpoint.iteration_name(iteration))
    record = metrics_record(iteration, consumed, summary["metrics"])
    config.metrics_file.parent.mkdir(parents=True, exist_ok=True)
    with open(config.metrics_file, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")
    print(f"iteration {iteration}: appended {len(record) - 2} eval metrics to {config.metrics_file}")
    return record


def follow(config: EvalConfig) -> None:
    with results.own(config.output):  # one follower per --output: two would append every record twice
        _follow(config)


def _follow(config: EvalConfig) -> None:
    while True:
        if not config.run.is_dir():  # at the start, or removed while --watch waits
            raise ValueError(f"--run {config.run}: no such checkpoint folder")
        done = evaluated_iterations(config.metrics_file)
        todo = [i for i in checkpoint.complete_iterations(config.run) if i not in done]
        if config.latest_only:
            todo = todo[-1:]
        for iteration in todo:
            evaluate_checkpoint(config, iteration)
        if not config.watch:
            if not todo:
                print(f"--run {config.run}: no new complete checkpoint to evaluate")
            return
        time.sleep(config.poll_interval)
