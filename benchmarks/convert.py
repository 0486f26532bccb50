"""Conversion memory and speed at a real model shape, against plain safetensors I/O.

Writes a random HF StarCoder2 folder of the chosen preset (sc2-3b: ~6 GB in bf16), then times the
real CLI both ways in child processes, each measured alone (peak RSS from wait4):

  import   HF folder -> our checkpoint
  export   our checkpoint -> HF folder
  baseline safetensors load_file + save_file of the same shards (what any copy of the bytes costs)

and prints peak RSS / model bytes (goal: at most 25%) and each conversion's bytes/s as a share of
the baseline's (goal: at least 50%). Needs about 4x the model size free on --workdir; removes
everything it wrote unless --keep.

    python benchmarks/convert.py [--preset sc2-3b] [--workdir /tmp/sc2-convert-bench]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

BASELINE = """
import sys
from pathlib import Path
from safetensors.torch import load_file, save_file
source, target = Path(sys.argv[1]), Path(sys.argv[2])
target.mkdir()
for shard in sorted(source.glob("*.safetensors")):
    save_file(load_file(shard), target / shard.name, metadata={"format": "pt"})
"""


def write_random_hf(folder: Path, preset: str, max_shard_size: str) -> None:
    """A random HF folder of the preset's shape in bf16, written tensor by tensor."""
    import torch

    from megatron_sc2.config import get_preset
    from megatron_sc2.conversion import hf_io
    from megatron_sc2.conversion.mapping import hf_shapes

    model = get_preset(preset)
    folder.mkdir(parents=True)
    specs = [hf_io.TensorSpec(name, shape, torch.bfloat16) for name, shape in hf_shapes(model).items()]
    shards = hf_io.plan_shards(specs, hf_io.parse_size(max_shard_size))
    names = hf_io.shard_file_names(len(shards))
    generator = torch.Generator().manual_seed(0)
    for shard, name in zip(shards, names):
        hf_io.write_safetensors(
            folder / name, shard,
            lambda spec: (torch.randn(spec.shape, generator=generator) * 0.02).to(spec.dtype),
        )
    hf_io.write_index(folder, shards, names)
    hf_io.write_json(folder / "config.json", hf_io.hf_config(model, torch.bfloat16, eod_id=0))


def measure(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one child process, from its own rusage.

    Linux carries a process's peak RSS across exec, so a child starts from this process's peak:
    this process therefore imports nothing heavy (no torch) and generates the model in a child."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                                 stdout=log, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            log.seek(0)
            raise SystemExit(f"{' '.join(command[:4])} ... failed:\n{log.read()[-4000:]}")
    return seconds, usage.ru_maxrss * 1024


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--preset", default="sc2-3b")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/sc2-convert-bench"))
    parser.add_argument("--max-shard-size", default="5GB")
    parser.add_argument("--keep", action="store_true", help="keep the folders written")
    parser.add_argument("--write-random-hf", type=Path, help=argparse.SUPPRESS)  # the first child's job
    args = parser.parse_args()
    if args.write_random_hf:
        write_random_hf(args.write_random_hf, args.preset, args.max_shard_size)
        return

    work = args.workdir
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        seconds, _ = measure([sys.executable, __file__, "--write-random-hf", str(work / "hf"),
                              "--preset", args.preset, "--max-shard-size", args.max_shard_size])
        model_bytes = sum(p.stat().st_size for p in (work / "hf").glob("*.safetensors"))
        print(f"{args.preset}: random HF folder, {model_bytes / 1e9:.2f} GB bf16, written in {seconds:.0f} s",
              flush=True)
        cli = [sys.executable, "-m", "megatron_sc2.conversion.cli"]
        runs = {
            "baseline": [sys.executable, "-c", BASELINE, str(work / "hf"), str(work / "copy")],
            "import": cli + ["import", "--hf", str(work / "hf"), "--save", str(work / "ckpt"), "--no-progress"],
            "export": cli + ["export", "--load", str(work / "ckpt"), "--output", str(work / "hf2"),
                             "--max-shard-size", args.max_shard_size, "--no-progress"],
        }
        results = {}
        for name, command in runs.items():
            os.sync()
            results[name] = measure(command)
            if name == "baseline":
                shutil.rmtree(work / "copy")
        base_rate = model_bytes / results["baseline"][0]
        print(f"{'run':<10}{'seconds':>9}{'GB/s':>8}{'vs baseline':>13}{'peak RSS GB':>13}{'RSS/model':>11}")
        for name, (seconds, rss) in results.items():
            rate = model_bytes / seconds
            print(f"{name:<10}{seconds:>9.1f}{rate / 1e9:>8.3f}{rate / base_rate:>12.0%}"
                  f"{rss / 1e9:>13.2f}{rss / model_bytes:>10.0%}")
        print("goals: conversion RSS/model <= 25%, conversion speed >= 50% of baseline")
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
