"""Target token shares -> megatron's weighted `--data-path`, from the datasets' manifests.

megatron-core samples each blended prefix in proportion to its weight, and every sample is
`seq_length` tokens, so a prefix's weight is its share of the training tokens. What a share costs
shows as epochs: the share of the training tokens over the tokens the prefix holds (StarCoder2 kept
every source at or under about five).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from megatron_sc2.data.manifest import manifest_path, read_manifest
from megatron_sc2.data.tokenizer_record import describe


@dataclass
class Source:
    prefix: str
    weight: float  # normalized share of the training tokens
    tokens: int  # held by the prefix


def mixture(shares: list[tuple[float, str]]) -> list[Source]:
    """One Source per (share, prefix); refuses a prefix without a manifest or tokens, and prefixes of
    different tokenizers."""
    for share, prefix in shares:
        if not (math.isfinite(share) and share > 0):
            raise ValueError(f"share {share} of {prefix}: every share must be a positive finite number; leave a "
                             "dataset out instead of giving it 0")
    manifests = {}
    for _, prefix in shares:
        manifest = read_manifest(prefix)
        if manifest is None:
            raise ValueError(f"{manifest_path(prefix)} does not exist: re-run tools/preprocess_data.py or "
                             "tools/merge_datasets.py for this prefix")
        if not manifest["tokens"]:
            raise ValueError(f"{prefix} holds no tokens")
        manifests[prefix] = manifest
    tokenizers = {prefix: (m.get("tokenizer") or {}).get("sha256") for prefix, m in manifests.items()}
    (first, first_sha), *rest = tokenizers.items()
    for prefix, sha in rest:
        if sha != first_sha or sha is None:
            names = [describe(manifests[p]["tokenizer"]) if tokenizers[p] else "no tokenizer record"
                     for p in (first, prefix)]
            raise ValueError(f"{first} ({names[0]}) and {prefix} ({names[1]}) were made by different "
                             "tokenizers: one --data-path blends datasets of one tokenizer")
    largest = max(share for share, _ in shares)  # scaled first: 1e308 + 1e308 is inf
    total = sum(share / largest for share, _ in shares)
    return [Source(prefix, share / largest / total, manifests[prefix]["tokens"]) for share, prefix in shares]


def epochs(source: Source, train_tokens: int) -> float:
    return source.weight * train_tokens / source.tokens


def data_path(sources: list[Source]) -> list[str]:
    """`--data-path W1 P1 W2 P2 ...`'s values."""
    return [item for source in sources for item in (f"{source.weight:.6g}", source.prefix)]
