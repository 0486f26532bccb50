"""Evaluation as the StarCoder2 paper does it: HumanEval pass@k, single-line infilling, perplexity,
MBPP and MultiPL-E from user files; offline, with generated code run only inside a sandbox."""
