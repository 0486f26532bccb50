"""Our GPTModel under TP x PP on gloo: load a checkpoint (or save one from seeded weights), both
through the trainer's checkpointing; write the logits of the given tokens (full vocab) to LOGITS."""

import argparse
from pathlib import Path

import torch
from seeded_weights import seeded_fill

from megatron_sc2 import runtime
from megatron_sc2.checkpoint import resolve
from megatron_sc2.config import ModelConfig, ParallelConfig
from megatron_sc2.model import build_model, to_transformer_config
from megatron_sc2.training import checkpointing


def logits_of(chunks, tokens):
    from megatron.core import parallel_state, tensor_parallel
    from megatron.core.pipeline_parallel import get_forward_backward_func

    batch, seq = tokens.shape

    def forward_step(data_iterator, model):
        data = next(data_iterator)
        output = model(data, torch.arange(seq).expand(batch, seq), attention_mask=None)
        return output, lambda out: (out.sum() * 0, {"logits": out.detach()})

    with torch.no_grad():
        stored = get_forward_backward_func()(
            forward_step_func=forward_step, data_iterator=iter([tokens]), model=chunks[0],
            num_microbatches=1, seq_length=seq, micro_batch_size=batch, forward_only=True,
        )
    if not parallel_state.is_pipeline_last_stage():
        return None
    return tensor_parallel.gather_from_tensor_model_parallel_region(stored[0]["logits"])


def greedy(chunks, tokens, steps: int, vocab_size: int):
    """Greedy decoding without a KV cache: the last stage picks, the pipeline hears its pick."""
    from megatron.core import parallel_state

    for _ in range(steps):
        logits = logits_of(chunks, tokens)
        pick = torch.empty(tokens.shape[0], dtype=torch.long)
        if logits is not None:
            pick = logits[:, -1, :vocab_size].argmax(-1)
        torch.distributed.broadcast(
            pick, src=parallel_state.get_pipeline_model_parallel_last_rank(),
            group=parallel_state.get_pipeline_model_parallel_group(),
        )
        tokens = torch.cat([tokens, pick[:, None]], dim=1)
    return tokens


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--tp", type=int, default=1)
    parser.add_argument("--pp", type=int, default=1)
    parser.add_argument("--load", type=Path, help="checkpoint to load")
    parser.add_argument("--save", type=Path, help="save seeded weights here instead of loading")
    parser.add_argument("--model", type=Path, help="ModelConfig JSON (with --save)")
    parser.add_argument("--tokens", type=Path, required=True)
    parser.add_argument("--logits", type=Path, required=True)
    parser.add_argument("--generate", type=int, default=0, help="greedy tokens to add; written beside LOGITS")
    args = parser.parse_args()

    parallel = ParallelConfig(tensor_model_parallel_size=args.tp, pipeline_model_parallel_size=args.pp)
    runtime.initialize(parallel)
    from megatron.core import parallel_state

    if args.load:  # through the trainer's own checkpoint loading
        directory, meta = resolve(args.load)
        model_cfg = ModelConfig.from_dict(meta["model"])
    else:
        model_cfg = ModelConfig.from_file(args.model)
    chunks = build_model(model_cfg, to_transformer_config(model_cfg, parallel), max_sequence_length=512)
    for chunk in chunks:
        chunk.eval()
    if args.load:
        checkpointing.load(directory, meta, chunks, None, model_config=model_cfg, parallel=parallel,
                           load_optimizer=False)
    else:  # and its own saving
        seeded_fill(chunks, scale=0.1)
        checkpointing.save(args.save, 3, chunks, None, common={}, model_config=model_cfg, parallel=parallel,
                           model_only=True)
    tokens = torch.load(args.tokens)
    logits = logits_of(chunks, tokens)
    generated = greedy(chunks, tokens, args.generate, model_cfg.vocab_size)
    if logits is not None and parallel_state.get_tensor_model_parallel_rank() == 0:
        torch.save(logits, args.logits)
        torch.save(generated, args.logits.with_name("generated.pt"))
    runtime.destroy()


if __name__ == "__main__":
    main()
