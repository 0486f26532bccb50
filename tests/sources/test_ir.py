"""LLVM IR: the paper's layout (§5.6) and shares. bigcode-project/the-stack-v2 (commit 9172041) has only the
compile scripts (`ir/Compile_*.py`, whose `llvm_O3` and `llvm_OZ` name the record's fields), no renderer."""

import random

import pytest
from sources.notebook_planted import IR, filter_verdicts

from megatron_sc2.sources import ir

RECORD = IR["complete"]


@pytest.mark.parametrize("code_first, size_optimized, expected", [
    (1.0, 1.0, RECORD["source"] + "<code_to_intermediate>" + RECORD["llvm_OZ"]),
    (1.0, 0.0, RECORD["source"] + "<code_to_intermediate>" + RECORD["llvm_O3"]),
    (0.0, 1.0, RECORD["llvm_OZ"] + "<intermediate_to_code>" + RECORD["source"]),
    (0.0, 0.0, RECORD["llvm_O3"] + "<intermediate_to_code>" + RECORD["source"]),
])  # fmt: skip
def test_pinned_choices(code_first, size_optimized, expected):
    assert ir.render(RECORD, random.Random(0), ir.Options(code_first, size_optimized)) == expected


def test_shares_over_10000_records():
    rng, options = random.Random(7), ir.Options()
    texts = [ir.render(RECORD, rng, options) for _ in range(10_000)]
    code_first = sum("<code_to_intermediate>" in text for text in texts) / len(texts)
    size_optimized = sum("; Oz" in text for text in texts) / len(texts)
    assert abs(code_first - 0.5) <= 0.02 and abs(size_optimized - 0.8) <= 0.02, (code_first, size_optimized)


def test_render_is_reproducible_given_the_rng():
    draws = [ir.render(RECORD, random.Random(seed), ir.Options()) for seed in range(30)]
    assert draws == [ir.render(RECORD, random.Random(seed), ir.Options()) for seed in range(30)]
    assert len(set(draws)) == 4


def test_filter_drops_records_without_both_irs():
    verdicts, counters = filter_verdicts("ir", IR)
    assert verdicts == {"complete": "kept", "no_size_ir": "missing_ir", "no_source": "missing_ir"}
    assert counters["dropped_missing_ir"] == 2
