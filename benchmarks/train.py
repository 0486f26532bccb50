#!/usr/bin/env python
"""Training speed: our pretrain loop against the loops it should cost no more than, side by side.

Per iteration, on the same model, batches, optimizer settings and device:
  - ours: the trainer's `train_stage` (real dataset and loader, scheduler, logging every
    --log-interval, the per-step stop-signal agreement), as `python -m megatron_sc2.pretrain` runs it
    (loader workers on GPU; on CPU none, so the FIM data path is part of our time);
  - bare: a bare megatron-core loop over the same model and optimizer: batches already on the
    device, then zero grads, `get_forward_backward_func`, `optimizer.step()`; nothing else (goal:
    ours <= 1.03 x bare);
  - hf: Hugging Face `Starcoder2ForCausalLM` with torch AdamW and grad clipping, the loop a user
    would write without megatron (bf16 autocast on GPU, fp32 on CPU like ours).
Rounds alternate the three loops; each figure is the best round. On CPU the time is the process's
CPU time (robust to other load on a shared machine; run with OMP_NUM_THREADS=1), on GPU wall time.

Data path: samples/s that our FIM dataset and loader deliver at seq 4096 and 16384, against the
samples/s one H100 consumes at 45% MFU training sc2-15b (flops.py's formula).

  OMP_NUM_THREADS=1 python benchmarks/train.py [--model sc2-mini --seq-length 256 ...] [--json FILE]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import tempfile
import time
from pathlib import Path

import torch

from megatron_sc2 import runtime
from megatron_sc2.support import SMALL, stdlib_dataset
from megatron_sc2.training.flops import BF16_DENSE_PEAK_TFLOPS, flops_per_iteration

H100_PEAK_TFLOPS = dict(BF16_DENSE_PEAK_TFLOPS)["h100"]
TARGET_MFU = 0.45


def clock() -> float:
    """CPU seconds of this process on CPU; wall seconds after the GPU's queue drains on GPU."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()
        return time.perf_counter()
    return time.process_time()


def loader_workers() -> int:
    """On GPU the default --num-workers 2, as runs use it; on CPU none, so the process's CPU time
    includes the data path (workers' time would escape it) and the comparison stays fair."""
    return 2 if torch.cuda.is_available() else 0


def run_config(data: dict, model: str, seq: int, global_batch: int, micro_batch: int, iters: int, bf16: bool):
    from megatron_sc2.training.arguments import parse_args

    args = ["--model", model, "--data-path", str(data["prefix"]), "--data-cache-path", str(data["cache"]),
            "--tokenizer-model", str(data["tokenizer"]), "--split", "1,0,0", "--seq-length", str(seq),
            "--global-batch-size", str(global_batch), "--micro-batch-size", str(micro_batch),
            "--train-iters", str(iters), "--lr-warmup-iters", "1", "--num-workers", str(loader_workers()),
            "--eval-interval", str(10 * iters), *(["--bf16"] if bf16 else [])]
    return parse_args(args, world_size=1)


class OurLoop:
    """The trainer's stage loop, advanced `n` iterations at a time."""

    def __init__(self, run):
        from megatron_sc2.data.tokenizer import load_tokenizer
        from megatron_sc2.data.tokenizer_record import tokenizer_record
        from megatron_sc2.runtime.watchdog import ProgressWatchdog
        from megatron_sc2.training.exit_signals import ExitSignals
        from megatron_sc2.training.metrics import MetricsLogger
        from megatron_sc2.training.trainer import CheckpointSaver, TrainState, build_stage

        self.run = run
        tokenizer = load_tokenizer(run.data.tokenizer_type, run.data.tokenizer_model)
        self.parts = build_stage(run, run.stages[0], tokenizer, 1)
        self.state = TrainState(stage_name=run.stages[0].name)
        self.metrics, self.signals, self.saver = MetricsLogger(None, None, None, None, True), ExitSignals(None), \
            CheckpointSaver(run, tokenizer_record(tokenizer))
        self.watchdog = ProgressWatchdog(run.parallel_options.distributed_timeout_minutes)

    def __call__(self, n: int) -> None:
        from megatron_sc2.training.trainer import train_stage

        self.parts.stage = dataclasses.replace(self.parts.stage, train_iters=self.state.stage_iteration + n)
        train_stage(self.run, self.parts, self.state, self.metrics, self.signals, self.saver, self.watchdog, 1)


class BareLoop:
    """megatron-core only, on our model and optimizer, with the batches already on the device."""

    def __init__(self, ours: OurLoop):
        from megatron_sc2.training.data import microbatches
        from megatron_sc2.training.step import move_batch

        parts = ours.parts
        self.model, self.optimizer, self.num_microbatches = parts.model, parts.optimizer, parts.num_microbatches
        self.seq, self.micro = parts.stage.seq_length, ours.run.batch.micro_batch_size
        data = microbatches(parts.train_data, start_sample=0, total_samples=len(parts.train_data),
                            micro_batch_size=self.micro, num_workers=0)
        self.batches = [move_batch(next(data), runtime.device()) for _ in range(self.num_microbatches)]

    def __call__(self, n: int) -> None:
        from megatron.core.pipeline_parallel import get_forward_backward_func

        from megatron_sc2.training.step import forward_step

        for _ in range(n):
            for chunk in self.model:
                chunk.zero_grad_buffer()
            self.optimizer.zero_grad()
            get_forward_backward_func()(
                forward_step_func=forward_step, data_iterator=iter(self.batches), model=self.model[0],
                num_microbatches=self.num_microbatches, seq_length=self.seq, micro_batch_size=self.micro,
            )
            self.optimizer.step()


class HFLoop:
    """Hugging Face Starcoder2ForCausalLM + torch AdamW on the bare loop's batches."""

    def __init__(self, bare: BareLoop, run):
        from transformers import Starcoder2Config, Starcoder2ForCausalLM

        from megatron_sc2.conversion.hf_io import hf_config

        config = Starcoder2Config(**hf_config(run.model, torch.float32, eod_id=0))
        self.model = Starcoder2ForCausalLM(config).to(runtime.device()).train()
        adam = run.optimizer
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=run.stages[0].lr,
                                           betas=(adam.adam_beta1, adam.adam_beta2), eps=adam.adam_eps,
                                           weight_decay=adam.weight_decay)
        self.batches, self.clip = bare.batches, adam.clip_grad
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=adam.bf16 and torch.cuda.is_available())

    def __call__(self, n: int) -> None:
        tokens_per_step = sum(int(b["loss_mask"].sum()) for b in self.batches)
        for _ in range(n):
            for batch in self.batches:
                with self.autocast:
                    logits = self.model(input_ids=batch["tokens"]).logits
                losses = torch.nn.functional.cross_entropy(logits.float().flatten(0, 1), batch["labels"].flatten(),
                                                           reduction="none")
                ((losses * batch["loss_mask"].flatten()).sum() / tokens_per_step).backward()
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.clip)
            self.optimizer.step()
            self.optimizer.zero_grad(set_to_none=True)


def time_per_iteration(loops: dict, iters: int, rounds: int, warmup: int) -> dict[str, float]:
    for loop in loops.values():
        loop(warmup)
    best = {name: float("inf") for name in loops}
    for _ in range(rounds):
        for name, loop in loops.items():
            start = clock()
            loop(iters)
            best[name] = min(best[name], (clock() - start) / iters)
    return best


def train_benchmark(data: dict, *, model: str, seq: int, global_batch: int, micro_batch: int, iters: int,
                    rounds: int, warmup: int, bf16: bool) -> dict:
    run = run_config(data, model, seq, global_batch, micro_batch, warmup + rounds * iters + 1, bf16)
    ours = OurLoop(run)
    bare = BareLoop(ours)
    seconds = time_per_iteration({"ours": ours, "bare": bare, "hf": HFLoop(bare, run)}, iters, rounds, warmup)
    return {"model": model, "seq_length": seq, "global_batch": global_batch, "micro_batch": micro_batch,
            "bf16": bf16, "clock": "wall" if torch.cuda.is_available() else "process CPU",
            **{f"{name}_s_per_iter": s for name, s in seconds.items()},
            "ours_over_bare": seconds["ours"] / seconds["bare"], "ours_over_hf": seconds["ours"] / seconds["hf"]}


def data_benchmark(data: dict, *, seq: int, samples: int) -> dict:
    """Samples/s of the FIM dataset through the training loader (one process, no workers)."""
    from megatron_sc2.data.datasets import build_datasets
    from megatron_sc2.data.fim import FIMConfig
    from megatron_sc2.data.tokenizer import load_tokenizer
    from megatron_sc2.training.data import microbatches
    from megatron_sc2.training.step import move_batch

    tokenizer = load_tokenizer("HuggingFaceTokenizer", data["tokenizer"])
    train, _, _ = build_datasets([str(data["prefix"])], "1,0,0", seq, 1234, tokenizer, num_samples=(samples, 0, 0),
                                 cache_path=str(data["cache"]), fim=FIMConfig(rate=0.5, spm_rate=0.5, fragment_rate=0.5))
    loader = microbatches(train, start_sample=0, total_samples=samples, micro_batch_size=1, num_workers=0)
    start, cpu_start = time.perf_counter(), time.process_time()
    for batch in loader:
        move_batch(batch, runtime.device())
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    from megatron_sc2.config import get_preset

    needed = TARGET_MFU * H100_PEAK_TFLOPS * 1e12 / flops_per_iteration(
        get_preset("sc2-15b"), seq, 1, None if seq <= 4096 else 4096, full_recompute=False)
    return {"seq_length": seq, "samples": samples, "samples_per_s_cpu": samples / cpu,
            "samples_per_s_wall": samples / wall, "h100_sc2_15b_needs_samples_per_s": needed,
            "headroom": samples / cpu / needed}


def print_train(result: dict) -> None:
    print(f"{result['model']} seq {result['seq_length']} global batch {result['global_batch']} "
          f"(micro {result['micro_batch']}), {'bf16' if result['bf16'] else 'fp32'}, {result['clock']} s/iteration:")
    for name in ("ours", "bare", "hf"):
        print(f"  {name:5} {result[f'{name}_s_per_iter']:.4f}")
    print(f"  ours / bare megatron-core = {result['ours_over_bare']:.3f} (goal <= 1.03); "
          f"ours / HF + AdamW = {result['ours_over_hf']:.3f}")


def print_data(result: dict) -> None:
    print(f"data seq {result['seq_length']} with FIM: {result['samples_per_s_cpu']:.1f} samples/s per CPU second "
          f"({result['samples_per_s_wall']:.1f} wall); an H100 at {TARGET_MFU:.0%} MFU on sc2-15b needs "
          f"{result['h100_sc2_15b_needs_samples_per_s']:.2f}: {result['headroom']:.0f}x headroom per loader process")


def main() -> None:
    parser = argparse.ArgumentParser(description="pretrain loop vs bare megatron-core vs HF; data path speed",
                                     allow_abbrev=False)
    parser.add_argument("--model", default="sc2-mini")
    parser.add_argument("--seq-length", type=int, default=256)
    parser.add_argument("--global-batch-size", type=int, default=8)
    parser.add_argument("--micro-batch-size", type=int, default=4)
    parser.add_argument("--iters", type=int, default=10, help="iterations per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--data-samples", type=int, default=200, help="samples per data-path measurement")
    parser.add_argument("--workdir", type=Path, help="where the dataset is made (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    from megatron_sc2.config import ParallelConfig

    runtime.initialize(ParallelConfig())
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sc2_train_bench_"))
    data = stdlib_dataset(workdir, packages=SMALL)
    figures = {"train_loop": train_benchmark(
        data, model=args.model, seq=args.seq_length, global_batch=args.global_batch_size,
        micro_batch=args.micro_batch_size, iters=args.iters, rounds=args.rounds, warmup=args.warmup, bf16=args.bf16)}
    print_train(figures["train_loop"])
    for seq in (4096, 16384):
        figures[f"data_seq{seq}"] = data_benchmark(data, seq=seq, samples=args.data_samples)
        print_data(figures[f"data_seq{seq}"])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    runtime.destroy()


if __name__ == "__main__":
    main()
