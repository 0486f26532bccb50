"""`tools/curate.py`: raw code records -> clean JSONL for `tools/preprocess_data.py` (console entry: `main`)."""

import argparse
import json
import os
import sys

from megatron_sc2.curation.pipeline import OPTIONAL_STEPS, CurationConfig, run
from megatron_sc2.curation.records import SCHEMAS
from megatron_sc2.curation.stats import RefusedInput, report


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        prog="curate.py",
        description="The Stack v2 curation (StarCoder2 paper §2-3) on datatrove: opt-out, basic filters, "
        "benchmark decontamination, MinHash near-deduplication (5-grams, 25x10 bands, Jaccard ~0.7, best file "
        "per cluster by license/stars/forks/dates), ClamAV malware removal (--malware-db), PII redaction. Writes "
        "OUTPUT/data/*.jsonl, OUTPUT/stats.json (what each step removed, by reason) and, with --write-removed, OUTPUT/removed/<step>/. Re-running the "
        "same command resumes an interrupted run.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    io = parser.add_argument_group("data")
    io.add_argument("--input", required=True,
                    help="folder of .jsonl/.json[.gz|.zst] or .parquet record files (one format), searched recursively")
    io.add_argument("--output", required=True, help="output folder (created)")
    io.add_argument("--schema", choices=sorted(SCHEMAS), default="default",
                    help="column names: 'default' (content, path, repository, language, license_type, stars, "
                    "forks, revision_date, visit_date) or 'the-stack-v2' (repo_name, star_events_count, ...)")
    io.add_argument("--compression", choices=("none", "gzip", "zstd"), default="none",
                    help="compression of the output JSONL")
    io.add_argument("--write-removed", action="store_true",
                    help="also write removed records to OUTPUT/removed/<step>/ (with `filter_reason`)")
    io.add_argument("--max-bad-fraction", metavar="FRACTION", type=float, default=0.01,
                    help="stop before publishing anything if more input records than this are bad (not UTF-8, "
                    "not a JSON object, content missing or not a string; a broken file counts as one), as "
                    "preprocess_data.py does")
    steps = parser.add_argument_group("steps")
    steps.add_argument("--opt-out", metavar="FILE", help="repositories to remove, one owner/name per line")
    steps.add_argument("--benchmark", metavar="JSONL", action="append", default=[],
                       help="extra benchmark to decontaminate against (fields prompt, canonical_solution, text, "
                       "code, question); HumanEval is always used. Repeatable")
    steps.add_argument("--skip", choices=OPTIONAL_STEPS, action="append", default=[],
                       help="leave a step out (e.g. near-dedup for sources StarCoder2 did not deduplicate). Repeatable")
    steps.add_argument("--pii-model", metavar="PATH",
                       help="a local Hugging Face token-classification model (StarPII) run over 512-token windows "
                       "next to the rules; adds <NAME> redaction. On the GPU when there is one")
    steps.add_argument("--pii-batch-size", type=int, default=32, help="windows per model batch")
    steps.add_argument("--malware-db", metavar="DIR",
                       help="remove files ClamAV finds malware in (§3.4), scanned by a clamd per task against the "
                       "signature database in DIR (freshclam's main/daily/bytecode, SaneSecurity's, your own); "
                       "needs Debian's clamav-daemon. A file clamd cannot scan whole is removed too")
    run_group = parser.add_argument_group("execution")
    run_group.add_argument("--executor", choices=("local", "slurm"), default="local")
    run_group.add_argument("--tasks", type=int, help="tasks per stage (default: one per input file)")
    run_group.add_argument("--workers", type=int, default=os.cpu_count(), help="local processes")
    run_group.add_argument("--slurm-partition", help="partition for --executor slurm")
    run_group.add_argument("--slurm-time", default="24:00:00", help="time limit per SLURM job")
    run_group.add_argument("--verbose", action="store_true",
                           help="also print datatrove's log of every task (its pipeline and stats), as "
                           "OUTPUT/logs/STAGE/logs/ holds it")
    return parser


def _usage_error(args) -> str | None:
    if not os.path.isdir(args.input):
        return f"--input {args.input}: not a folder"
    source, target = os.path.realpath(args.input), os.path.realpath(args.output)
    if os.path.commonpath([source, target]) in (source, target):
        return (f"--output {args.output} overlaps --input {args.input}: the input would include the run's own "
                "files (or the output overwrite it); choose an output folder outside the input")
    if args.pii_model and not os.path.isfile(os.path.join(args.pii_model, "config.json")):
        return f"--pii-model {args.pii_model}: no config.json there; give a saved Hugging Face model folder"
    if args.malware_db and "malware" in args.skip:
        return "--malware-db and --skip malware: give one (scan with that database, or curate without scanning)"
    if args.malware_db and not os.path.isdir(args.malware_db):
        return f"--malware-db {args.malware_db}: not a folder; give the folder of ClamAV signature files"
    if args.pii_batch_size < 1:
        return f"--pii-batch-size {args.pii_batch_size}: must be at least 1"
    if not 0 <= args.max_bad_fraction <= 1:
        return f"--max-bad-fraction {args.max_bad_fraction}: must be between 0 and 1"
    return None


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if error := _usage_error(args):
        print(f"curate.py: {error}", file=sys.stderr)
        return 2
    cfg = CurationConfig(
        input=args.input, output=args.output, schema=args.schema,
        opt_out=args.opt_out, benchmarks=args.benchmark, skip=args.skip, write_removed=args.write_removed,
        max_bad_fraction=args.max_bad_fraction, pii_model=args.pii_model, pii_batch_size=args.pii_batch_size,
        malware_db=args.malware_db,
        compression=None if args.compression == "none" else args.compression, tasks=args.tasks,
        workers=args.workers, executor=args.executor, slurm_partition=args.slurm_partition,
        slurm_time=args.slurm_time, verbose=args.verbose,
    )
    try:
        run(cfg, log=lambda line: print(f"curate.py: {line}", flush=True))
    except (ValueError, FileNotFoundError, RefusedInput) as error:
        print(f"curate.py: {error}", file=sys.stderr)
        return 2
    if args.executor == "local":
        with open(cfg.path("stats.json")) as stats:
            print(f"curate.py: {report(json.load(stats))}")
        print(f"curate.py: clean records in {cfg.path('data')}, report in {cfg.path('stats.json')}")
    return 0
