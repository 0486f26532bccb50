"""Generation throughput of the evaluator against plain one-prompt-at-a-time `generate`.

Writes a random HF StarCoder2 folder of the chosen preset with a tokenizer trained on Python's
standard library, then generates greedily for the first --problems HumanEval prompts twice:

  evaluator  megatron_sc2.evaluation.generation: length-sorted left-padded batches, per-row stops
  baseline   transformers `model.generate` on each prompt alone, same max_new_tokens, same stops

and prints new tokens/s and samples/s of each and the evaluator's speedup over the baseline. A random
model rarely hits a stop sequence, so both mostly run the full max_new_tokens.

    python benchmarks/generate.py [--preset sc2-mini] [--problems 32] [--batch-size 16] [--device cpu]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]


def write_model(folder: Path, preset: str) -> None:
    from transformers import Starcoder2Config, Starcoder2ForCausalLM

    from megatron_sc2.config import get_preset

    model = get_preset(preset)
    corpus = folder / "corpus.jsonl"
    for command in (["tools/make_stdlib_corpus.py", corpus, "--packages", "json", "email"],
                    ["tools/train_tokenizer.py", corpus, "--output-dir", folder / "hf", "--vocab-size",
                     model.vocab_size]):
        subprocess.run([sys.executable, *map(str, command)], cwd=REPO, check=True, capture_output=True)
    config = Starcoder2Config(
        vocab_size=model.vocab_size, hidden_size=model.hidden_size, intermediate_size=model.ffn_hidden_size,
        num_hidden_layers=model.num_layers, num_attention_heads=model.num_attention_heads,
        num_key_value_heads=model.num_query_groups, rope_theta=model.rotary_base,
        max_position_embeddings=model.max_position_embeddings, tie_word_embeddings=model.tie_embeddings,
        bos_token_id=0, eos_token_id=0,
    )
    torch.manual_seed(0)
    Starcoder2ForCausalLM(config).save_pretrained(folder / "hf")


def baseline(generator, prompts, stops, max_new_tokens: int) -> tuple[float, int]:
    """Seconds and new tokens of plain generate, one prompt at a time, stopping at the same strings."""
    tokenizer, model, new_tokens = generator.tokenizer, generator.model, 0
    start = time.perf_counter()
    for prompt, stop in zip(prompts, stops):
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(generator.device)
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, stop_strings=list(stop),
                                 tokenizer=tokenizer, pad_token_id=tokenizer.pad_token_id)
        new_tokens += out.shape[1] - ids["input_ids"].shape[1]
    return time.perf_counter() - start, new_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--preset", default="sc2-mini")
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    from megatron_sc2.evaluation.generation import GenerationConfig, Generator
    from megatron_sc2.evaluation.tasks import HumanEval

    problems = HumanEval().problems()[: args.problems]
    prompts, stops = [p.prompt for p in problems], [p.stops for p in problems]
    with tempfile.TemporaryDirectory(prefix="sc2-generate-bench-") as tmp:
        write_model(Path(tmp), args.preset)
        generator = Generator(Path(tmp) / "hf", args.device)
        generator.generate(prompts[:2], stops[:2], GenerationConfig(max_new_tokens=4, batch_size=2))  # warm-up
        generator.stats.__init__()
        generator.generate(prompts, stops, GenerationConfig(max_new_tokens=args.max_new_tokens,
                                                            batch_size=args.batch_size))
        ours = generator.stats.as_dict()
        seconds, tokens = baseline(generator, prompts, stops, args.max_new_tokens)
    base_tps, base_sps = tokens / seconds, len(prompts) / seconds
    print(f"preset {args.preset}, {len(prompts)} HumanEval prompts, {args.max_new_tokens} new tokens max, "
          f"device {generator.device}")
    print(f"  evaluator (batch {args.batch_size}): {ours['tokens_per_s']:9.1f} tokens/s  "
          f"{ours['samples_per_s']:7.2f} samples/s  ({ours['seconds']:.1f} s)")
    print(f"  baseline (one at a time): {base_tps:9.1f} tokens/s  {base_sps:7.2f} samples/s  ({seconds:.1f} s)")
    print(f"  speedup: {ours['samples_per_s'] / base_sps:.2f}x samples/s, {ours['tokens_per_s'] / base_tps:.2f}x tokens/s")


if __name__ == "__main__":
    main()
