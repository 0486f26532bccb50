"""One optimizer step of sc2-tiny under a given layout; dumps loss, grad norm and weight shards."""

import argparse
import json
from pathlib import Path

import torch
from seeded_weights import seeded_fill

from megatron_sc2 import runtime
from megatron_sc2.config import ParallelConfig, get_preset
from megatron_sc2.model import build_model, to_transformer_config
from megatron_sc2.training.optim import OptimizerSettings, build_optimizer, wrap_ddp
from megatron_sc2.training.step import train_step

GLOBAL_BATCH, MICRO_BATCH, SEQ = 8, 2, 32


def collect_shards(model):
    """{checkpoint key: (global shape, global offset, this rank's tensor)}."""
    shards = {}
    for chunk in model:
        for sh in chunk.module.sharded_state_dict().values():
            if hasattr(sh, "global_shape") and sh.data is not None:
                shards[sh.key] = (tuple(sh.global_shape), tuple(sh.global_offset), sh.data.detach().clone())
    return shards


def global_batch(vocab):
    gen = torch.Generator().manual_seed(0)
    text = torch.randint(0, vocab, (GLOBAL_BATCH, SEQ + 1), generator=gen)
    return {
        "tokens": text[:, :-1], "labels": text[:, 1:],
        "loss_mask": torch.ones(GLOBAL_BATCH, SEQ), "position_ids": torch.arange(SEQ).expand(GLOBAL_BATCH, SEQ),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tp", type=int, default=1)
    parser.add_argument("--pp", type=int, default=1)
    parser.add_argument("--vpp", type=int, default=None)
    parser.add_argument("--dist-opt", action="store_true")
    parser.add_argument("--clip-grad", type=float, default=1.0)
    parser.add_argument("--lr", type=float, default=1e-2)
    # Adam's first step is lr * g / (|g| + eps): with eps=1e-8, gradients near zero turn
    # reduction-order noise into whole-lr differences. A larger eps keeps the comparison well
    # conditioned without changing what is compared.
    parser.add_argument("--adam-eps", type=float, default=1e-4)
    parser.add_argument("--preset", default="sc2-tiny")
    parser.add_argument("--dump-grads", action="store_true", help="also save pre-step weights and post-clip grads")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    parallel = ParallelConfig(args.tp, args.pp, args.vpp, use_distributed_optimizer=args.dist_opt)
    launch = runtime.initialize(parallel, seed=1234)
    from megatron.core import parallel_state

    model_cfg = get_preset(args.preset)
    tconfig = to_transformer_config(model_cfg, parallel)
    chunks = build_model(model_cfg, tconfig, max_sequence_length=SEQ)
    seeded_fill(chunks, scale=0.05)
    model = wrap_ddp(chunks, tconfig, parallel)
    optimizer = build_optimizer(
        model, OptimizerSettings(lr=args.lr, clip_grad=args.clip_grad, weight_decay=0.1, adam_eps=args.adam_eps), parallel, bf16=False
    )

    dp, dp_rank = parallel_state.get_data_parallel_world_size(), parallel_state.get_data_parallel_rank()
    batch = global_batch(model_cfg.vocab_size)
    per_rank = GLOBAL_BATCH // dp
    mine = {k: v[dp_rank * per_rank:(dp_rank + 1) * per_rank] for k, v in batch.items()}
    micro = [{k: v[i:i + MICRO_BATCH] for k, v in mine.items()} for i in range(0, per_rank, MICRO_BATCH)]
    out = Path(args.out)
    if args.dump_grads:
        torch.save(collect_shards(model), out / f"before_rank{launch.rank}.pt")
    result = train_step(
        model, optimizer, [iter(micro) for _ in model], num_microbatches=len(micro),
        seq_length=SEQ, micro_batch_size=MICRO_BATCH,
    )
    torch.save(collect_shards(model), out / f"shards_rank{launch.rank}.pt")
    if args.dump_grads:
        grads = {name: p.grad.clone() for chunk in model for name, p in chunk.module.named_parameters()}
        torch.save(grads, out / f"grads_rank{launch.rank}.pt")
    if result.loss is not None and dp_rank == 0:
        (out / f"result_rank{launch.rank}.json").write_text(
            json.dumps({"loss": result.loss, "grad_norm": result.grad_norm})
        )
    runtime.destroy()


if __name__ == "__main__":
    main()
