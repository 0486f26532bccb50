"""LLVM IR (StarCoder2 paper §5.6): a source file with its LLVM IR, `code<code_to_intermediate>IR` or
`IR<intermediate_to_code>code`, one direction or the other with probability 0.5, and the size-optimized IR (-Oz)
80% of the time, the performance-optimized one (-O3) otherwise.

A record holds the three texts the reference's `ir/Compile_*.py` (bigcode-project/the-stack-v2, commit 9172041)
write for a source: `source`, `llvm_O3` and `llvm_OZ`. The reference has no renderer; this follows the paper.
"""

import random
from dataclasses import dataclass

CODE_TO_IR, IR_TO_CODE = "<code_to_intermediate>", "<intermediate_to_code>"
FIELDS = ("source", "llvm_O3", "llvm_OZ")


@dataclass(frozen=True)
class Options:
    code_first: float = 0.5  # share of `code<code_to_intermediate>IR`; the rest is `IR<intermediate_to_code>code`
    size_optimized: float = 0.8  # share that shows the -Oz IR; the rest shows -O3


def removal_reason(record: dict, options: Options) -> str | None:
    """Records missing the source or either IR go."""
    return None if all(record.get(field) for field in FIELDS) else "missing_ir"


def render(record: dict, rng: random.Random, options: Options) -> str:
    ir = record["llvm_OZ"] if rng.random() < options.size_optimized else record["llvm_O3"]
    if rng.random() < options.code_first:
        return f"{record['source']}{CODE_TO_IR}{ir}"
    return f"{ir}{IR_TO_CODE}{record['source']}"
