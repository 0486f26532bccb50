"""Planted near-duplicate pairs from real code, with their true Jaccard similarity under StarCoder2's shingling."""

import random
import re

from megatron_sc2.curation.minhash import starcoder2_ngrams

_TOKEN = re.compile(r"\w+")


def jaccard(a: str, b: str) -> float:
    x, y = starcoder2_ngrams(a), starcoder2_ngrams(b)
    return len(x & y) / len(x | y) if x | y else 1.0


def mutate(text: str, rate: float, rng: random.Random) -> str:
    """Replaces each word with a fresh one with probability `rate` (edits, renames, version bumps)."""
    return _TOKEN.sub(lambda m: f"w{rng.randrange(10**6)}" if rng.random() < rate else m.group(), text)


def snippets(sources: list[str], lines: int = 40, per_file: int = 3) -> list[str]:
    """Up to `per_file` non-adjacent windows of `lines` lines from each source, so unrelated snippets stay
    unrelated."""
    out = []
    for text in sources:
        rows = text.splitlines()
        starts = range(lines, len(rows) - lines + 1, 2 * lines)
        out += ["\n".join(rows[s : s + lines]) for s in list(starts)[:per_file]]
    return out


def planted_pairs(sources: list[str], n_pairs: int, seed: int = 0) -> list[tuple[str, str, float]]:
    """(original, copy, true Jaccard): half light edits (J mostly >= 0.85), half heavy (J mostly <= 0.5)."""
    rng = random.Random(seed)
    pairs = []
    for i, original in enumerate(snippets(sources)[:n_pairs]):
        rate = rng.uniform(0.002, 0.02) if i % 2 == 0 else rng.uniform(0.08, 0.3)
        copy = mutate(original, rate, rng)
        pairs.append((original, copy, jaccard(original, copy)))
    return pairs
