#!/usr/bin/env python
"""Turn target token shares into the weighted --data-path of a training run, from dataset manifests.

Each SHARE PREFIX pair names a dataset written by tools/preprocess_data.py or tools/merge_datasets.py
(its {prefix}.manifest.json) and its share of the training tokens (shares are normalized). Prints the
--data-path arguments on stdout and, on stderr, each dataset's tokens, weight and, with
--train-tokens, the epochs that weight implies. Datasets of different tokenizers are refused.

With --recipe FILE (examples/data/sc2-*.yaml: StarCoder2's Table 4), give only the PREFIXes, one dataset per
source of the recipe (found by its manifest's by_source): each is weighted by the tokens it holds, and
--train-tokens above the recipe's max_epochs over their unique tokens is refused.

Example (StarCoder2-style: code by language, issues, notebooks, docs):
  python tools/blend_data_path.py --train-tokens 3.3e12 \\
      0.55 tok/stack-python_content_document 0.25 tok/stack-java_content_document \\
      0.08 tok/issues_content_document 0.07 tok/notebooks_content_document 0.05 tok/docs_content_document

  # StarCoder2-3B's mixture, one dataset per source
  python tools/blend_data_path.py --recipe examples/data/sc2-3b.yaml --train-tokens 3.1e12 tok/*_content_document
"""

from __future__ import annotations

import argparse
import math
import sys

from megatron_sc2.data.mixture import data_path, epochs, mixture
from megatron_sc2.data.recipe import check_epochs, load_recipe, recipe_mixture


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("blend", nargs="+",
                        metavar="SHARE PREFIX", help="a share and a dataset prefix, repeated (with --recipe: prefixes)")
    parser.add_argument("--recipe", metavar="FILE", help="a data recipe, e.g. examples/data/sc2-3b.yaml")
    parser.add_argument("--train-tokens", type=float, metavar="N",
                        help="tokens the run trains on, e.g. 3.3e12")
    args = parser.parse_args(argv)
    if args.recipe:
        if args.train_tokens is None:
            parser.error("--recipe needs --train-tokens: its epoch cap is checked against them")
        args.prefixes = [p.removesuffix(".manifest.json") for p in args.blend]
    elif len(args.blend) % 2:
        parser.error("give SHARE PREFIX pairs, e.g. 0.7 tok/code_content_document 0.3 tok/doc_content_document")
    if args.train_tokens is not None and not (math.isfinite(args.train_tokens) and args.train_tokens >= 1):
        parser.error(f"--train-tokens {args.train_tokens}: give the tokens the run trains on, a number of at least 1")
    if not args.recipe:
        try:
            args.shares = [(float(share), prefix) for share, prefix in zip(args.blend[::2], args.blend[1::2])]
        except ValueError:
            parser.error(f"shares must be numbers, got {args.blend[::2]}")
    return args


def main_recipe(args) -> int:
    try:
        recipe = load_recipe(args.recipe)
        named = recipe_mixture(recipe, args.prefixes)
        epochs_run = check_epochs(recipe, [source for _, source in named], args.train_tokens)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for name, source in named:
        print(f"{source.weight:8.2%}  {source.tokens:>18,} tokens  {name:30} {source.prefix}", file=sys.stderr)
    unique = sum(source.tokens for _, source in named)
    stated = f" (the recipe's reference: {recipe.unique_tokens_b:,.2f}B)" if recipe.unique_tokens_b else ""
    print(f"{recipe.model}: {unique / 1e9:,.2f}B unique tokens{stated}, {epochs_run:.2f} epochs of "
          f"{args.train_tokens:.4g} training tokens (max_epochs {recipe.max_epochs:g})", file=sys.stderr)
    print("--data-path " + " ".join(data_path([source for _, source in named])))
    return 0


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.recipe:
        return main_recipe(args)
    try:
        sources = mixture(args.shares)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    for source in sources:
        line = f"{source.weight:8.2%}  {source.tokens:>16,} tokens  {source.prefix}"
        if args.train_tokens:
            line += f"  ({epochs(source, int(args.train_tokens)):.2f} epochs)"
        print(line, file=sys.stderr)
    print("--data-path " + " ".join(data_path(sources)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
