#!/usr/bin/env python
"""Turn target token shares into the weighted --data-path of a training run, from dataset manifests.

Each SHARE PREFIX pair names a dataset written by tools/preprocess_data.py or tools/merge_datasets.py
(its {prefix}.manifest.json) and its share of the training tokens (shares are normalized). Prints the
--data-path arguments on stdout and, on stderr, each dataset's tokens, weight and, with
--train-tokens, the epochs that weight implies. Datasets of different tokenizers are refused.

Example (StarCoder2-style: code by language, issues, notebooks, docs):
  python tools/blend_data_path.py --train-tokens 3.3e12 \\
      0.55 tok/stack-python_content_document 0.25 tok/stack-java_content_document \\
      0.08 tok/issues_content_document 0.07 tok/notebooks_content_document 0.05 tok/docs_content_document
"""

from __future__ import annotations

import argparse
import math
import sys

from megatron_sc2.data.mixture import data_path, epochs, mixture


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n", 1)[1],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("blend", nargs="+",
                        metavar="SHARE PREFIX", help="a share and a dataset prefix, repeated")
    parser.add_argument("--train-tokens", type=float, metavar="N",
                        help="tokens the run trains on, e.g. 3.3e12")
    args = parser.parse_args(argv)
    if len(args.blend) % 2:
        parser.error("give SHARE PREFIX pairs, e.g. 0.7 tok/code_content_document 0.3 tok/doc_content_document")
    if args.train_tokens is not None and not (math.isfinite(args.train_tokens) and args.train_tokens >= 1):
        parser.error(f"--train-tokens {args.train_tokens}: give the tokens the run trains on, a number of at least 1")
    try:
        args.shares = [(float(share), prefix) for share, prefix in zip(args.blend[::2], args.blend[1::2])]
    except ValueError:
        parser.error(f"shares must be numbers, got {args.blend[::2]}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
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
