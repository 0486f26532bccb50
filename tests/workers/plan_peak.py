"""Train sc2-mini for two steps on real tensors under torch's memory tracker, then (rank 0) plan
the same launch: tests/planning/test_measured_peak.py compares the two.

usage: plan_peak.py OUT_DIR TOKENIZER TP SEQ MICRO_BATCH
"""

import json
import sys
import warnings
from pathlib import Path

warnings.simplefilter("ignore")
import torch
from torch.distributed._tools.mem_tracker import MemTracker

from megatron_sc2 import runtime
from megatron_sc2.model import build_model, to_transformer_config
from megatron_sc2.planning import plan_launch
from megatron_sc2.planning.plan import launch_settings
from megatron_sc2.training.arguments import parse_args
from megatron_sc2.training.optim import OptimizerSettings, build_optimizer, wrap_ddp
from megatron_sc2.training.step import train_step

out, tokenizer, tp, seq, micro = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
world = torch.distributed.get_world_size() if torch.distributed.is_initialized() else None
run = parse_args(["--model", "sc2-mini", "--vocab-size", "8192", "--tensor-model-parallel-size", str(tp),
                  "--seq-length", str(seq), "--micro-batch-size", str(micro), "--global-batch-size", str(micro),
                  "--train-iters", "2", "--lr", "1e-3", "--min-lr", "1e-4", "--data-path", "unused",
                  "--tokenizer-model", tokenizer, "--recompute-granularity", "selective"])
settings = launch_settings(run)
launch = runtime.initialize(run.parallel, seed=settings.seed)
config = to_transformer_config(run.model, run.parallel, bf16=settings.bf16, recompute=settings.recompute)
model = wrap_ddp(build_model(run.model, config, max_sequence_length=seq), config, run.parallel)
optimizer = build_optimizer(model, OptimizerSettings(), run.parallel, bf16=settings.bf16)
tokens = torch.randint(0, run.model.vocab_size, (micro, seq + 1), generator=torch.Generator().manual_seed(0))
batch = {"tokens": tokens[:, :-1], "labels": tokens[:, 1:], "loss_mask": torch.ones(micro, seq),
         "position_ids": torch.arange(seq).expand(micro, seq)}


class GradBuffers(list):
    """megatron-core's DDP keeps its gradient buffers in `self.buffers`, hiding nn.Module.buffers(),
    which the tracker calls on every module it sees run: a list that answers both."""

    def __init__(self, chunk):
        super().__init__(chunk.buffers)
        self.chunk = chunk

    def __call__(self, *args, **kwargs):
        return torch.nn.Module.buffers(self.chunk, *args, **kwargs)


for chunk in model:
    chunk.buffers = GradBuffers(chunk)
tracker = MemTracker()
tracker.track_external(*(chunk.module for chunk in model), *(b.grad_data for chunk in model for b in chunk.buffers),
                       *batch.values())
with tracker:
    for _ in range(2):
        train_step(model, optimizer, [iter([batch])], num_microbatches=1, seq_length=seq, micro_batch_size=micro)
        tracker.reset_mod_stats()  # per-module figures are per iteration; the peak is kept
peak = sum(device["Total"] for device in tracker.get_tracker_snapshot("peak").values())
(out / f"rank{launch.rank}.json").write_text(json.dumps({"peak_bytes": peak}))
runtime.destroy()
if launch.rank == 0:
    plan = plan_launch(run, launch.world_size, attention="local")
    (out / "plan.json").write_text(json.dumps(plan.stages[0].ranks[0].memory_gib))
