"""A data recipe (examples/data/sc2-*.yaml, StarCoder2's Table 4): which sources a model trains on, and the most
epochs it may run over them. With the datasets' manifests it becomes the weighted `--data-path`.

Each source is one dataset, found by the `by_source` of its manifest. Sources are blended in their natural
proportions (each weighted by the tokens it holds, as StarCoder2 did), so every source runs the same number of
epochs: the training tokens over the unique tokens of all of them; a mixture above the recipe's cap is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from megatron_sc2.data.manifest import manifest_path, read_manifest
from megatron_sc2.data.mixture import Source, mixture


@dataclass(frozen=True)
class Recipe:
    path: str
    model: str
    sources: dict[str, float]  # source -> the tokens (billions) the recipe's reference lists
    max_epochs: float
    unique_tokens_b: float | None  # as the reference states it


def load_recipe(path: str) -> Recipe:
    """The recipe at `path`; ValueError naming the file and what is wrong."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        raise ValueError(f"--recipe {path}: {error}") from None
    sources = raw.get("sources") if isinstance(raw, dict) else None
    if not isinstance(sources, dict) or not sources:
        raise ValueError(f"--recipe {path}: no `sources:` mapping (source: tokens in billions)")
    cap = raw.get("max_epochs")
    if not isinstance(cap, (int, float)) or not math.isfinite(cap) or cap <= 0:
        raise ValueError(f"--recipe {path}: `max_epochs` must be a positive number, not {cap!r}")
    return Recipe(path, str(raw.get("model", Path(path).stem)), {str(k): float(v) for k, v in sources.items()},
                  float(cap), raw.get("unique_tokens_b"))


def source_of(prefix: str) -> str:
    """The one source a dataset holds, from its manifest's by_source."""
    manifest = read_manifest(prefix)
    if manifest is None:
        raise ValueError(f"{manifest_path(prefix)} does not exist: re-run tools/preprocess_data.py for this prefix")
    sources = [name for name, entry in manifest.get("by_source", {}).items() if entry["tokens"]]
    if len(sources) != 1:
        found = ", ".join(sources) or "none"
        raise ValueError(f"{manifest_path(prefix)} holds the sources {found}: a recipe blends datasets of one source "
                         "each (give each its `source`, e.g. tools/fetch_contents.py --source NAME)")
    return sources[0]


def recipe_mixture(recipe: Recipe, prefixes: list[str]) -> list[tuple[str, Source]]:
    """(source, Source) per recipe source, weighted by the tokens its dataset holds; refuses a source the recipe
    lacks, a recipe source without a dataset, and two datasets of one source."""
    by_source: dict[str, str] = {}
    for prefix in prefixes:
        source = source_of(prefix)
        if source not in recipe.sources:
            raise ValueError(f"{prefix} holds source {source}, which {recipe.path} does not list "
                             f"({', '.join(recipe.sources)})")
        if source in by_source:
            raise ValueError(f"{by_source[source]} and {prefix} both hold source {source}: merge them first "
                             "(tools/merge_datasets.py)")
        by_source[source] = prefix
    if missing := [s for s in recipe.sources if s not in by_source]:
        raise ValueError(f"{recipe.path} lists {', '.join(missing)}, which no given dataset holds")
    tokens = {prefix: read_manifest(prefix)["tokens"] for prefix in by_source.values()}
    shares = [(float(tokens[by_source[s]]), by_source[s]) for s in recipe.sources]
    return list(zip(recipe.sources, mixture(shares)))


def check_epochs(recipe: Recipe, sources: list[Source], train_tokens: float) -> float:
    """The epochs `train_tokens` make over the sources; ValueError above the recipe's cap."""
    unique = sum(source.tokens for source in sources)
    epochs = train_tokens / unique
    if epochs > recipe.max_epochs:
        raise ValueError(f"--train-tokens {train_tokens:.4g} is {epochs:.2f} epochs over the {unique / 1e9:,.2f}B unique "
                         f"tokens of {recipe.path}'s sources, above its max_epochs {recipe.max_epochs:g}: train on "
                         f"at most {recipe.max_epochs * unique:.4g} tokens, or add data")
    return epochs
