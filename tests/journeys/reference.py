"""The references a journey is compared with: the Hugging Face model's own loss on the exact samples
the trainer reads (its validation split, in its order), computed by transformers."""

from __future__ import annotations

from pathlib import Path

import torch

from megatron_sc2.data.datasets import build_datasets
from megatron_sc2.data.tokenizer import load_tokenizer


def validation_samples(data: dict, *, seq_length: int, global_batch_size: int, train_iters: int,
                       eval_interval: int, eval_iters: int, split: str, seed: int = 1234) -> list[dict]:
    """The first evaluation's samples, as `pretrain` builds them for these flags (needs a process group:
    the `single_process_group` fixture)."""
    evaluations = train_iters // eval_interval + 1
    tokenizer = load_tokenizer("HuggingFaceTokenizer", str(data["tokenizer"]))
    _, valid, _ = build_datasets([str(data["prefix"])], split, seq_length, seed, tokenizer,
                                 num_samples=(train_iters * global_batch_size,
                                              evaluations * eval_iters * global_batch_size, 0),
                                 cache_path=str(data["cache"]))
    return [valid[i] for i in range(eval_iters * global_batch_size)]


def hf_loss(hf_dir: Path, samples: list[dict]) -> float:
    """Token-mean loss of the HF model (fp32, eval mode) over `samples`, as the trainer reduces it."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(hf_dir, torch_dtype=torch.float32).eval()
    total, count = 0.0, 0.0
    with torch.no_grad():
        for sample in samples:
            tokens = torch.as_tensor(sample["tokens"])[None]
            logits = model(tokens).logits[0].float()
            losses = torch.nn.functional.cross_entropy(logits, torch.as_tensor(sample["labels"]), reduction="none")
            mask = torch.as_tensor(sample["loss_mask"]).float()
            total += float((losses * mask).sum())
            count += float(mask.sum())
    return total / count
