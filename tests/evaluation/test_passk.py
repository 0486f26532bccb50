from fractions import Fraction
from math import comb

import pytest

from megatron_sc2.evaluation.scoring import mean_pass_at_k, pass_at_k


def reference(n: int, c: int, k: int) -> Fraction:
    return 1 - Fraction(comb(n - c, k), comb(n, k))


@pytest.mark.parametrize("n", [1, 2, 5, 20, 200])
def test_estimator_equals_the_exact_binomial_formula(n):
    for c in range(n + 1):
        for k in {1, 2, 10, 100, n} & set(range(1, n + 1)):
            assert pass_at_k(n, c, k) == pytest.approx(float(reference(n, c, k)), abs=1e-12), (n, c, k)


def test_mean_over_problems_reports_only_k_up_to_n():
    results = [[True, False, False, False], [False] * 4, [True] * 4]
    metrics = mean_pass_at_k(results, ks=(1, 2, 10))
    assert set(metrics) == {"pass@1", "pass@2"}
    assert metrics["pass@1"] == pytest.approx((0.25 + 0 + 1) / 3)
    assert metrics["pass@2"] == pytest.approx((float(reference(4, 1, 2)) + 0 + 1) / 3)


def test_impossible_counts_are_refused():
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
    with pytest.raises(ValueError):
        pass_at_k(3, 1, 5)
