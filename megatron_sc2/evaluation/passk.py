"""The unbiased pass@k estimator of Chen et al. (2021): 1 - C(n-c, k) / C(n, k), averaged over problems."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_KS = (1, 10, 100)


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of k samples drawn without replacement from n, c of them
    correct, is correct; computed as a stable product instead of huge binomials."""
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n and 1 <= k <= n, got n={n} c={c} k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - float(np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def mean_pass_at_k(results: Sequence[Sequence[bool]], ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """{"pass@k": mean over problems} for each k no larger than the smallest sample count."""
    n_min = min(len(samples) for samples in results)
    return {
        f"pass@{k}": float(np.mean([pass_at_k(len(s), sum(s), k) for s in results]))
        for k in ks if k <= n_min
    }
