"""Generation throughput of the evaluator, batched against one prompt at a time, and its stop check's share.

Writes a random HF StarCoder2 folder of the chosen preset (optionally deeper or wider) with a tokenizer
trained on Python's standard library, then generates greedily for the first --problems HumanEval
prompts twice in one process, through megatron_sc2.evaluation.generation both times:

  batched    --batch-size prompts per `generate` call: length-sorted, left-padded, per-row stops
  unbatched  one prompt per call (batch 1)

and prints new tokens/s (wall clock and per CPU-second of this process, which a loaded machine
distorts less), the ratio, whether the completions are the same, and the time spent in the per-row
stop check. A random model rarely hits a stop sequence, so both mostly run the full max_new_tokens.

    python benchmarks/generate.py [--preset sc2-mini] [--num-layers 8 --hidden-size 512] [--problems 16]
        [--batch-size 8] [--max-new-tokens 128] [--device cpu]
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


def write_model(folder: Path, preset: str, num_layers: int | None, hidden_size: int | None) -> None:
    from transformers import Starcoder2Config, Starcoder2ForCausalLM

    from megatron_sc2.config import get_preset

    model = get_preset(preset)
    hidden = hidden_size or model.hidden_size
    ffn = model.ffn_hidden_size * hidden // model.hidden_size
    corpus = folder / "corpus.jsonl"
    for command in (["tools/make_stdlib_corpus.py", corpus, "--packages", "json", "email"],
                    ["tools/train_tokenizer.py", corpus, "--output-dir", folder / "hf", "--vocab-size",
                     model.vocab_size]):
        subprocess.run([sys.executable, *map(str, command)], cwd=REPO, check=True, capture_output=True)
    config = Starcoder2Config(
        vocab_size=model.vocab_size, hidden_size=hidden, intermediate_size=ffn,
        num_hidden_layers=num_layers or model.num_layers, num_attention_heads=model.num_attention_heads,
        num_key_value_heads=model.num_query_groups, rope_theta=model.rotary_base,
        max_position_embeddings=model.max_position_embeddings, tie_word_embeddings=model.tie_embeddings,
        bos_token_id=0, eos_token_id=0,
    )
    torch.manual_seed(0)
    Starcoder2ForCausalLM(config).save_pretrained(folder / "hf")


def timed_stop_check() -> list[float]:
    """Seconds spent in the evaluator's per-row stop check, summed over its calls from now on."""
    from megatron_sc2.evaluation import generation

    spent, check = [0.0], generation._StopStrings.__call__

    def timed(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return check(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - start

    generation._StopStrings.__call__ = timed
    return spent


def run(generator, prompts, stops, config, spent: list[float]) -> dict:
    """One evaluator call: its completions, stats, CPU seconds and seconds of stop checking."""
    generator.stats.__init__()
    before, cpu = spent[0], time.process_time()
    texts = generator.generate(prompts, stops, config)
    return {"texts": texts, **generator.stats.as_dict(), "cpu": time.process_time() - cpu, "stop": spent[0] - before}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("--preset", default="sc2-mini")
    parser.add_argument("--num-layers", type=int, default=None, help="instead of the preset's")
    parser.add_argument("--hidden-size", type=int, default=None, help="instead of the preset's (FFN scaled alike)")
    parser.add_argument("--problems", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--device", default=None)
    args = parser.parse_args()

    from megatron_sc2.evaluation.generation import GenerationConfig, Generator
    from megatron_sc2.evaluation.tasks import HumanEval

    problems = HumanEval().problems()[: args.problems]
    prompts, stops = [p.prompt for p in problems], [p.stops for p in problems]
    with tempfile.TemporaryDirectory(prefix="sc2-generate-bench-") as tmp:
        write_model(Path(tmp), args.preset, args.num_layers, args.hidden_size)
        generator = Generator(Path(tmp) / "hf", args.device)
        generator.generate(prompts[:2], stops[:2], GenerationConfig(max_new_tokens=4, batch_size=2))  # warm-up
        spent = timed_stop_check()
        rows = {name: run(generator, prompts, stops, GenerationConfig(args.max_new_tokens, size), spent)
                for name, size in ((f"batched (batch {args.batch_size})", args.batch_size), ("unbatched (batch 1)", 1))}
    config = generator.model.config
    parameters = sum(p.numel() for p in generator.model.parameters())
    print(f"preset {args.preset}, {config.num_hidden_layers} layers x {config.hidden_size} ({parameters / 1e6:.1f}M "
          f"parameters), {len(prompts)} HumanEval prompts, {args.max_new_tokens} new tokens max, device "
          f"{generator.device}, {torch.get_num_threads()} torch threads")
    print(f"  {'':22} {'tokens/s':>9} {'tokens/CPU-s':>13} {'samples/s':>10} {'wall s':>7} {'stop check':>17}")
    for name, row in rows.items():
        print(f"  {name:22} {row['tokens_per_s']:9.1f} {row['new_tokens'] / row['cpu']:13.1f} "
              f"{row['samples_per_s']:10.2f} {row['seconds']:7.1f} "
              f"{row['stop']:7.2f} s = {row['stop'] / row['seconds']:4.1%}")
    batched, alone = rows.values()
    per_cpu = batched["new_tokens"] / batched["cpu"] / (alone["new_tokens"] / alone["cpu"])
    print(f"  batched / unbatched: {batched['tokens_per_s'] / alone['tokens_per_s']:.2f}x tokens/s, "
          f"{per_cpu:.2f}x tokens per CPU-second; "
          f"same completions: {'yes' if batched['texts'] == alone['texts'] else 'NO'}")


if __name__ == "__main__":
    main()
