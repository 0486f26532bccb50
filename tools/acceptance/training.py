"""Training: the project's own tools end to end. A code dataset made here (stdlib corpus, tokenizer,
repository-context preprocessing), 30 bf16 steps of `python -m megatron_sc2.pretrain` with the
distributed optimizer; the loss falls; a resume from the iteration-15 checkpoint repeats iterations
16-30 bitwise; the iteration-30 checkpoint exports to Hugging Face with our logits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from acceptance.numerics import FP32_TOLERANCE, child_environment, load_model, logits, relative_difference
from megatron_sc2.checkpoint import latest_iteration, write_marker
from megatron_sc2.support import SMALL, stdlib_dataset, torchrun_command

REPO = Path(__file__).resolve().parents[2]
STEPS, RESUME_AT = 30, 15
GPU_RESUME_TOLERANCE = 1e-2
# Deterministic kernels where a GPU has a choice: cuBLAS workspaces, TransformerEngine's attention.
DETERMINISTIC = {"CUBLAS_WORKSPACE_CONFIG": ":4096:8", "NVTE_ALLOW_NONDETERMINISTIC_ALGO": "0"}


def make_dataset(root: Path) -> dict:
    """Python's stdlib packages as a repository-context code dataset; made once per folder."""
    return stdlib_dataset(root, packages=SMALL, env=child_environment())


def pretrain_args(data: dict, run: Path, nproc: int, *extra) -> list[str]:
    on_gpu = torch.cuda.is_available()
    return [str(a) for a in [
        "--model", "sc2-tiny", "--bf16", "--use-distributed-optimizer",
        "--data-path", data["prefix"], "--data-cache-path", data["cache"], "--tokenizer-model", data["tokenizer"],
        "--split", "1,0,0", "--seq-length", 256 if on_gpu else 64, "--global-batch-size", 16 if on_gpu else 8,
        "--micro-batch-size", 16 // nproc if on_gpu else 4, "--train-iters", STEPS,
        "--lr", 3e-3, "--min-lr", 3e-4, "--lr-warmup-iters", 3, "--log-interval", 1,
        "--num-workers", 2 if on_gpu else 0,
        "--metrics-file", run / "metrics.jsonl", *extra,
    ]]


def pretrain(data: dict, run: Path, nproc: int, *extra) -> dict[int, float]:
    """Iteration -> loss of one launch of the pretrain entry point."""
    run.mkdir(parents=True, exist_ok=True)
    args = pretrain_args(data, run, nproc, *extra)
    command = torchrun_command(nproc, args)
    with open(run / "log.txt", "w") as log:
        result = subprocess.run(command, cwd=REPO, env={**child_environment(), **DETERMINISTIC}, stdout=log,
                                stderr=subprocess.STDOUT, check=False)
    if result.returncode:
        tail = (run / "log.txt").read_text()[-2000:]
        raise RuntimeError(f"pretrain exited {result.returncode} ({run / 'log.txt'}):\n{tail}")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return {r["iteration"]: r["loss"] for r in records if r.get("loss") is not None}


def plan_against_peak(section, data: dict, workdir: Path, nproc: int) -> None:
    """The planner's memory per GPU for the run above (`--dry-run`, on the CPU as on a login node)
    against its measured peak (torch.cuda.max_memory_allocated, logged as memory_gb)."""
    plan_file = workdir / "plan.json"
    command = [sys.executable, "-m", "megatron_sc2.pretrain", *pretrain_args(data, workdir / "run", nproc),
               "--dry-run", "--world-size", str(nproc), "--plan-output", str(plan_file)]
    result = subprocess.run(command, cwd=REPO, env={**child_environment(), "CUDA_VISIBLE_DEVICES": ""},
                            capture_output=True, text=True, check=False)
    if result.returncode:
        section.check("the plan of this run", False, (result.stdout + result.stderr).strip()[-300:])
        return
    plan = json.loads(plan_file.read_text())
    planned = max(rank["memory_gib"]["total"] for stage in plan["stages"] for rank in stage["pipeline_ranks"])
    records = [json.loads(line) for line in (workdir / "run" / "metrics.jsonl").read_text().splitlines()]
    measured = max(r["memory_gb"] for r in records if r.get("memory_gb") is not None)
    if not torch.cuda.is_available():
        section.skip("plan vs torch.cuda.max_memory_allocated", "no GPU (the CPU's figure is the peak RSS)")
        return
    section.figures.update(planned_memory_gib=planned, measured_peak_gib=measured,
                           plan_over_measured=planned / measured)
    section.measure("plan vs torch.cuda.max_memory_allocated",
                    f"planned {planned:.3f} GiB, measured {measured:.3f} GiB, ratio {planned / measured:.2f}")
def hf_logits(folder: Path, tokens: torch.Tensor) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(tokens).logits


def run(section, workdir: Path, *, data: Path) -> None:
    from megatron_sc2.conversion import export_to_hf

    nproc = 1 if torch.cuda.is_available() else 2  # on CPU, DP 2 shards the distributed optimizer
    data = make_dataset(data)
    checkpoints = workdir / "ckpt"
    losses = pretrain(data, workdir / "run", nproc, "--save", checkpoints, "--save-interval", RESUME_AT)
    first, last = sum(losses[i] for i in (1, 2, 3)) / 3, sum(losses[i] for i in (28, 29, 30)) / 3
    section.figures.update(processes=nproc, loss_first3=first, loss_last3=last,
                           losses=[losses[i] for i in sorted(losses)])
    section.check(f"{STEPS} bf16 steps, distributed optimizer: the loss falls", last < first - 0.5,
                  f"{first:.3f} -> {last:.3f}")
    section.check("checkpoints saved", latest_iteration(checkpoints) == STEPS,
                  f"latest iteration {latest_iteration(checkpoints)}")

    plan_against_peak(section, data, workdir, nproc)

    write_marker(checkpoints, RESUME_AT)
    resumed = pretrain(data, workdir / "resumed", nproc, "--load", checkpoints)
    write_marker(checkpoints, STEPS)
    expected = {i: losses[i] for i in range(RESUME_AT + 1, STEPS + 1)}
    difference = max(abs(resumed.get(i, float("inf")) - expected[i]) for i in expected)
    bitwise = all(resumed.get(i) == expected[i] for i in expected)
    section.figures.update(resume_max_loss_difference=difference, resume_bitwise=bitwise)
    if torch.cuda.is_available():
        # Bitwise where every kernel is deterministic (the CPU); on a GPU, F.embedding's backward
        # and other atomics may reduce in any order, so the bound is bf16 noise, and bitwise a figure.
        section.check(f"resume at {RESUME_AT} repeats iterations {RESUME_AT + 1}-{STEPS}",
                      difference <= GPU_RESUME_TOLERANCE,
                      f"max loss difference {difference:.2e} <= {GPU_RESUME_TOLERANCE:g}; bitwise: {bitwise}")
    else:
        section.check(f"resume at {RESUME_AT} repeats iterations {RESUME_AT + 1}-{STEPS} bitwise", bitwise,
                      f"max loss difference {difference:.2e}")

    hf = workdir / "hf"
    export_to_hf(checkpoints, hf, tokenizer_model=data["tokenizer"], progress=False)
    from transformers import AutoTokenizer

    text = "def read_config(path):\n    with open(path) as f:\n        return json.load(f)\n"
    tokens = AutoTokenizer.from_pretrained(hf)([text], return_tensors="pt")["input_ids"]
    theirs = hf_logits(hf, tokens)
    ours = logits(load_model(checkpoints, bf16=False, transformer_engine=False), tokens)[..., : theirs.shape[-1]]
    diff = relative_difference(ours, theirs)
    section.figures["hf_export_vs_ours_fp32"] = diff
    section.check("HF export: logits equal ours (fp32)", diff <= FP32_TOLERANCE, f"{diff:.2e} <= {FP32_TOLERANCE:g}")
