"""Evaluation as the StarCoder2 paper does it: HumanEval pass@k, single-line infilling, perplexity,
MBPP and MultiPL-E from user files; offline, with generated code run only inside a sandbox."""

# tasks.py first: the benchmark families' modules (evalplus.py, ...) build on it and it registers them.
from megatron_sc2.evaluation import tasks  # noqa: F401
