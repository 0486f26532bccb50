"""Tiny random HF StarCoder2 folders and our model under torchrun, for the conversion tests."""

from dataclasses import dataclass
from pathlib import Path

import torch
from multirank import run_worker

WORKER = str(Path(__file__).resolve().parent / "workers" / "megatron_logits.py")
VOCAB = 1000  # not a multiple of 128: exercises vocab padding


@dataclass(frozen=True)
class Tiny:
    """A tiny StarCoder2 with GQA (more query heads than KV groups)."""

    kv_groups: int
    tied: bool
    sliding_window: int | None

    @property
    def id(self) -> str:
        window = f"window{self.sliding_window}" if self.sliding_window else "full"
        return f"{self.kv_groups}groups-{'tied' if self.tied else 'untied'}-{window}"


def make_hf(folder: Path, tiny: Tiny, dtype=torch.float32, seed: int = 0) -> Path:
    from transformers import Starcoder2Config, Starcoder2ForCausalLM

    torch.manual_seed(seed)
    config = Starcoder2Config(
        vocab_size=VOCAB, hidden_size=64, intermediate_size=128, num_hidden_layers=4, num_attention_heads=8,
        num_key_value_heads=tiny.kv_groups, rope_theta=10_000.0, sliding_window=tiny.sliding_window,
        tie_word_embeddings=tiny.tied, max_position_embeddings=256, bos_token_id=0, eos_token_id=0,
        initializer_range=0.1,
    )
    model = Starcoder2ForCausalLM(config).to(dtype)
    with torch.no_grad():  # LayerNorms and biases start at 1/0: randomize them so every mapping shows
        for name, p in model.named_parameters():
            if p.ndim == 1:
                p.add_(torch.randn_like(p) * 0.1)
    model.save_pretrained(folder)
    return folder


def hf_logits(folder: Path, tokens: torch.Tensor) -> torch.Tensor:
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    with torch.no_grad():
        return model(tokens).logits


def megatron_logits(tmp: Path, tp: int, pp: int, *args) -> torch.Tensor:
    """Run our model under TP x PP with the worker's arguments; return its full-vocab logits."""
    tokens, logits = tmp / "tokens.pt", tmp / "megatron_logits.pt"
    run_worker(WORKER, tp * pp, "--tp", tp, "--pp", pp, "--tokens", tokens, "--logits", logits, *args)
    return torch.load(logits)
