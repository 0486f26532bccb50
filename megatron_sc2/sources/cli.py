"""`tools/render_sources.py`: raw conversation records -> StarCoder2 text for `tools/preprocess_data.py`."""

import argparse
import ast
import dataclasses
import os
import sys

from megatron_sc2.curation.optout import read_opt_out_list
from megatron_sc2.curation.stats import RefusedInput, report
from megatron_sc2.sources import SOURCES
from megatron_sc2.sources.pipeline import run


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False, prog="render_sources.py",
        description="Filter, pseudonymize and render one non-code source in StarCoder2's format (paper "
        "§5.2-5.6). Writes OUTPUT/data/*.jsonl (content, id, repository) and OUTPUT/stats.json (what each "
        "filter removed, by reason). See docs/sources.md.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--source", required=True, choices=sorted(SOURCES))
    parser.add_argument("--input", required=True,
                        help="folder of .jsonl/.json[.gz|.zst] or .parquet raw records (one format), searched "
                        "recursively")
    parser.add_argument("--output", required=True, help="output folder (new or empty)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the random choices; each record draws from seed + its id")
    parser.add_argument("--opt-out", metavar="FILE",
                        help="prs: repositories (owner/name) and users whose pull requests are removed, one a line")
    parser.add_argument("--set", metavar="NAME=VALUE", action="append", default=[],
                        help="change one of the source's options (docs/sources.md lists them), e.g. "
                        "--set full_base_prob=0.5. Repeatable")
    parser.add_argument("--max-bad-fraction", metavar="FRACTION", type=float, default=0.01,
                        help="publish nothing if more input records than this are bad, as curate.py does")
    parser.add_argument("--tasks", type=int, help="datatrove tasks (default: one per input file)")
    parser.add_argument("--workers", type=int, default=os.cpu_count(), help="local processes")
    parser.add_argument("--verbose", action="store_true", help="also print datatrove's log of every task")
    return parser


def source_options(source_name: str, settings: list[str], opt_out: str | None):
    """The source's options with `NAME=VALUE` settings (Python literals) applied; ValueError names a bad one."""
    options_type = SOURCES[source_name].options
    fields = {field.name for field in dataclasses.fields(options_type)}
    values = {}
    for setting in settings:
        name, _, text = setting.partition("=")
        if name not in fields:
            raise ValueError(f"--set {setting}: {source_name} has no option {name!r}; it has {', '.join(sorted(fields))}")
        try:
            values[name] = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            raise ValueError(f"--set {setting}: {text!r} is not a Python literal") from None
    if opt_out:
        if "opt_out" not in fields:
            raise ValueError(f"--opt-out applies to the prs source, not {source_name}")
        values["opt_out"] = read_opt_out_list(opt_out)
    return options_type(**values)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if not os.path.isdir(args.input):
            raise ValueError(f"--input {args.input}: not a folder")
        if args.opt_out and not os.path.isfile(args.opt_out):
            raise ValueError(f"--opt-out {args.opt_out}: no such file")
        options = source_options(args.source, args.set, args.opt_out)
        summary = run(args.source, args.input, args.output, args.seed, options, tasks=args.tasks,
                      workers=args.workers, max_bad_fraction=args.max_bad_fraction, verbose=args.verbose,
                      log=lambda line: print(f"render_sources.py: {line}", flush=True))
    except (ValueError, FileNotFoundError, RefusedInput) as error:
        print(f"render_sources.py: {error}", file=sys.stderr)
        return 2
    print(f"render_sources.py: {report(summary)}")
    print(f"render_sources.py: rendered records in {os.path.join(args.output, 'data')}")
    return 0
