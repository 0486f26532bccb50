#!/usr/bin/env python
"""GPU acceptance in one command: does the GPU path work, and how fast is it (docs/gpu.md).

Sections, each a module of tools/acceptance/:
  environment  GPU, driver, torch/CUDA, megatron-core, TransformerEngine, Apex; peak TFLOP/s; fused kernels
  numerics     the same sc2-tiny weights: GPU fp32 logits = CPU's, bf16 within tolerance, TE spec = local spec
  training     30 bf16 steps with the distributed optimizer on a dataset made here: the loss falls, the
               checkpoint resumes bitwise, and exports to Hugging Face with equal logits
  throughput   a few layers at the sc2-3b/7b/15b widths: TFLOP/s, MFU, peak memory, bytes stored per layer
  benchmark    benchmarks/train.py: our loop against a bare megatron-core loop and Hugging Face + AdamW

Every figure goes to OUT/acceptance.json and a table; the exit code is 1 if any check failed.
--cpu runs every step that needs no GPU (at small sizes), so CI keeps this script working.

  python tools/gpu_acceptance.py [--cpu] [--out DIR] [--only SECTION ...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

SECTIONS = ("environment", "numerics", "training", "throughput", "benchmark")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--cpu", action="store_true", help="run the steps that need no GPU, on the CPU")
    parser.add_argument("--out", type=Path, help="folder for acceptance.json and the runs (default: a temp dir)")
    parser.add_argument("--only", nargs="+", choices=SECTIONS, help="run these sections only")
    parser.add_argument("--cpu-reference", type=Path, help=argparse.SUPPRESS)  # numerics' CUDA-less worker
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.cpu:
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch looks
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # the subprocesses' deprecation noise would drown the table
    warnings.simplefilter("ignore")
    import torch
    from acceptance import environment, numerics, throughput, training
    from acceptance.report import Section, failed, over_goal, table, verdict

    from megatron_sc2 import runtime
    from megatron_sc2.config import ParallelConfig

    if args.cpu_reference:
        numerics.write_cpu_reference(args.cpu_reference)
        return 0
    if not args.cpu and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible: run on a GPU machine, or pass --cpu for the CPU-only steps")
    out = args.out or Path(tempfile.mkdtemp(prefix="sc2_acceptance_"))
    out.mkdir(parents=True, exist_ok=True)
    runtime.initialize(ParallelConfig())
    steps = {
        "environment": lambda s: environment.run(s),
        "numerics": lambda s: numerics.run(s, out / "numerics", Path(__file__).resolve()),
        "training": lambda s: training.run(s, out / "training", data=out / "data"),
        "throughput": lambda s: throughput.run(s, cpu=args.cpu),
        "benchmark": lambda s: throughput.benchmark(s, cpu=args.cpu, workdir=out / "benchmark", data=out / "data"),
    }
    sections = []
    for name in args.only or SECTIONS:
        section, start = Section(name), time.perf_counter()
        (out / name).mkdir(exist_ok=True)
        print(f"== {name}", flush=True)
        try:
            steps[name](section)
        except Exception as e:  # noqa: BLE001 (one broken section must not hide the others' results)
            traceback.print_exc()
            section.check("section completed", False, f"{type(e).__name__}: {str(e).splitlines()[0][:300]}")
        section.seconds = time.perf_counter() - start
        sections.append(section)
    report = {"mode": "cpu" if args.cpu else "gpu", "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
              "sections": {s.name: {"seconds": s.seconds, "figures": s.figures,
                                    "checks": [vars(c) for c in s.checks]} for s in sections},
              "failed": failed(sections), "over_goal": over_goal(sections)}
    (out / "acceptance.json").write_text(json.dumps(report, indent=2, default=str))
    print(table(sections))
    print(f"figures: {out / 'acceptance.json'}")
    runtime.destroy()
    print(verdict(sections))
    return 1 if report["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
