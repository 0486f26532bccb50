"""The curation run as a chain of datatrove stages, executed locally (multiprocess) or on SLURM.

    filter      read raw records; opt-out, basic filters, decontamination,
                malware (ClamAV, with --malware-db)                            -> work/filtered
    check       refuse to go on if the input had no records or too many bad ones (--max-bad-fraction)
    signatures  cluster keys + StarCoder2 MinHash signatures                    -> work/minhash
    buckets     LSH: equal band signatures -> duplicate pairs (one task per band)
    clusters    connected components; all but the best-ranked file marked
    output      drop marked files, redact PII, write the clean records          -> data/
    report      stats.json from every stage's counters

Stages that share documents (signatures, output) read the same files with the same task count, so the document
numbers datatrove's MinHash blocks exchange line up. Re-running the same command resumes: finished tasks are skipped.
Locally, stages run one after the other with one line each; datatrove's per-task log goes to its files (and, with
`verbose`, to the console too).
`options.json` in the output records what the output is made from; a run with other input or options is refused.
"""

import hashlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor, SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupFilter
from datatrove.utils.logging import logger

from megatron_sc2.curation.decontamination import (
    DecontaminationFilter,
    benchmark_file_strings,
    humaneval_strings,
)
from megatron_sc2.curation.detection import GoEnryClassifier
from megatron_sc2.curation.filters import StackV2BasicFilter
from megatron_sc2.curation.malware import ClamdError, MalwareFilter, check_database
from megatron_sc2.curation.minhash import (
    STARCODER2_MINHASH,
    ClusterKeyWriter,
    RankedMinhashCluster,
    StarCoder2MinhashSignature,
)
from megatron_sc2.curation.optout import OptOutFilter, read_opt_out_list
from megatron_sc2.curation.pii import PIIRedactor
from megatron_sc2.curation.records import SCHEMAS, RecordReader, RecordWriter, input_files
from megatron_sc2.curation.stats import check_input, summarize, write_json_atomically

OPTIONAL_STEPS = ("basic-filters", "decontamination", "malware", "near-dedup", "pii")


@dataclass
class CurationConfig:
    input: str
    output: str
    schema: str = "default"
    opt_out: str | None = None
    benchmarks: list[str] = field(default_factory=list)
    skip: list[str] = field(default_factory=list)
    write_removed: bool = False
    max_bad_fraction: float = 0.01
    pii_model: str | None = None
    pii_batch_size: int = 32
    malware_db: str | None = None
    compression: str | None = None
    tasks: int | None = None  # default: one per input file
    workers: int = 1
    executor: str = "local"
    slurm_partition: str | None = None
    slurm_time: str = "24:00:00"
    verbose: bool = False

    def path(self, *parts: str) -> str:
        return str(Path(self.output, *parts))


@dataclass
class Stage:
    name: str
    pipeline: list[PipelineStep]
    tasks: int


class WriteStats(PipelineStep):
    """Last stage: sums every earlier stage's per-task counters into `stats.json`."""

    type = "📊 - STATS"
    name = "📊 Curation report"

    def __init__(self, logs_dir: str, stages: list[str], output_path: str):
        super().__init__()
        self.logs_dir, self.stages, self.output_path = logs_dir, stages, output_path

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        write_json_atomically(summarize(self.logs_dir, self.stages), self.output_path)
        return data


class CheckInput(PipelineStep):
    """Between filtering and everything that publishes: the input had records, few enough of them bad, and some
    survived the filters (see `check_input`)."""

    type = "🔍 - CHECK"
    name = "🔍 Input check"

    def __init__(self, logs_dir: str, input_folder: str, max_bad_fraction: float):
        super().__init__()
        self.logs_dir, self.input_folder, self.max_bad_fraction = logs_dir, input_folder, max_bad_fraction

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        check_input(summarize(self.logs_dir, ["filter"]), self.input_folder, self.max_bad_fraction)
        return data


class QuietLocalExecutor(LocalPipelineExecutor):
    """datatrove's local executor without its console log: each task still logs everything to its file
    (`logs/STAGE/logs/task_NNNNN.log`) and its errors to the console, but not its pipeline and stats (hundreds of
    lines for a hundred records), nor "k/n tasks completed" and the stage's totals."""

    def _launch_run_for_rank(self, rank, ranks_q, completed=None, completed_lock=None):
        logger.disable("datatrove.executor.local")  # in worker processes
        return super()._launch_run_for_rank(rank, ranks_q, completed, completed_lock)

    def _run_for_rank(self, rank, local_rank=0, node_rank=-1):
        return super()._run_for_rank(rank, local_rank + 1, node_rank)  # datatrove's console log is local rank 0's


def _removed_writer(cfg: CurationConfig, step: str):
    schema = SCHEMAS[cfg.schema]
    return RecordWriter(cfg.path("removed", step), schema) if cfg.write_removed else None


def build_stages(cfg: CurationConfig) -> list[Stage]:
    unknown = set(cfg.skip) - set(OPTIONAL_STEPS)
    if unknown:
        raise ValueError(f"unknown step(s) to skip: {', '.join(sorted(unknown))}; choose from {OPTIONAL_STEPS}")
    if cfg.schema not in SCHEMAS:
        raise ValueError(f"unknown schema {cfg.schema!r}; choose from {', '.join(SCHEMAS)}")
    schema = SCHEMAS[cfg.schema]
    input_format, files = input_files(cfg.input)
    tasks = cfg.tasks or len(files)
    filtered, minhash = cfg.path("work", "filtered"), cfg.path("work", "minhash")

    filter_steps: list[PipelineStep] = [RecordReader(cfg.input, schema, input_format)]
    if cfg.opt_out:
        filter_steps.append(OptOutFilter(read_opt_out_list(cfg.opt_out), schema, _removed_writer(cfg, "opt_out")))
    if "basic-filters" not in cfg.skip:
        filter_steps += [
            GoEnryClassifier(schema, _removed_writer(cfg, "go_enry")),
            StackV2BasicFilter(schema, _removed_writer(cfg, "basic_filters")),
        ]
    if "decontamination" not in cfg.skip:
        strings = humaneval_strings() + [s for path in cfg.benchmarks for s in benchmark_file_strings(path)]
        filter_steps.append(DecontaminationFilter(strings, _removed_writer(cfg, "decontamination")))
    if "malware" not in cfg.skip:
        if not cfg.malware_db:  # never pass files unscanned by default
            raise ValueError("no --malware-db: every file is scanned with ClamAV (docs/curation.md, \"Malware "
                             "removal\"): give its signature folder, or --skip malware to curate without scanning")
        # after the cheap filters (fewer files to scan), before near-dedup (a malware file must not be the copy a
        # cluster keeps) and PII redaction (ClamAV sees the bytes as published)
        filter_steps.append(MalwareFilter(cfg.malware_db, _removed_writer(cfg, "malware")))
    filter_steps.append(RecordWriter(filtered, schema))
    stages = [
        Stage("filter", filter_steps, tasks),
        Stage("check", [CheckInput(cfg.path("logs"), cfg.input, cfg.max_bad_fraction)], 1),
    ]

    final_steps: list[PipelineStep] = [RecordReader(filtered, schema, "jsonl")]
    if "near-dedup" not in cfg.skip:
        stages += [
            Stage("signatures", [
                RecordReader(filtered, schema, "jsonl"),
                ClusterKeyWriter(minhash, schema),
                StarCoder2MinhashSignature(f"{minhash}/signatures"),
            ], tasks),
            Stage("buckets", [
                MinhashDedupBuckets(f"{minhash}/signatures", f"{minhash}/buckets", config=STARCODER2_MINHASH),
            ], STARCODER2_MINHASH.num_buckets),
            Stage("clusters", [RankedMinhashCluster(f"{minhash}/buckets", minhash, f"{minhash}/remove")], 1),
        ]
        final_steps.append(MinhashDedupFilter(f"{minhash}/remove", _removed_writer(cfg, "near_duplicate")))
    if "pii" not in cfg.skip:
        final_steps.append(PIIRedactor(cfg.pii_model, cfg.pii_batch_size))
    final_steps.append(RecordWriter(cfg.path("data"), schema, compression=cfg.compression))
    stages.append(Stage("output", final_steps, tasks))
    names = [s.name for s in stages]
    stages.append(Stage("report", [WriteStats(cfg.path("logs"), names, cfg.path("stats.json"))], 1))
    return stages


def _executor(cfg: CurationConfig, stage: Stage, depends):
    logging_dir = cfg.path("logs", stage.name)
    if cfg.executor == "local":
        local = LocalPipelineExecutor if cfg.verbose else QuietLocalExecutor
        return local(
            stage.pipeline, tasks=stage.tasks, workers=min(cfg.workers, stage.tasks), logging_dir=logging_dir,
            depends=depends,
        )
    if not cfg.slurm_partition:
        raise ValueError("--executor slurm needs --slurm-partition")
    return SlurmPipelineExecutor(
        stage.pipeline, tasks=stage.tasks, time=cfg.slurm_time, partition=cfg.slurm_partition,
        job_name=f"curate_{stage.name}", logging_dir=logging_dir, depends=depends,
    )


FINGERPRINT_BYTES = 1 << 20  # read from each end of an input file


def fingerprint(path: Path) -> str:
    """sha256 of a file's first and last MiB (all of it when smaller). With the size and mtime, it tells a file
    rewritten in place from the one a run was made from, at the cost of 2 MiB per file, not a read of the corpus;
    a gzip file ends with the CRC of all its content."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        digest.update(file.read(FINGERPRINT_BYTES))
        file.seek(max(FINGERPRINT_BYTES, file.seek(0, os.SEEK_END) - FINGERPRINT_BYTES))
        digest.update(file.read())
    return digest.hexdigest()


def _digest(path: str | None) -> str | None:
    return path and hashlib.sha256(Path(path).read_bytes()).hexdigest()


def output_options(cfg: CurationConfig) -> dict:
    """What the records of the output depend on, by flag: the input files, and the options that change which
    records are written or how (not those that only choose how the run executes)."""
    _, files = input_files(cfg.input)
    return {
        "--input files": {
            str(f.relative_to(cfg.input)): [f.stat().st_size, f.stat().st_mtime_ns, fingerprint(f)] for f in files
        },
        "--schema": cfg.schema,
        "--opt-out": _digest(cfg.opt_out),
        "--benchmark": [_digest(path) for path in cfg.benchmarks],
        "--skip": sorted(cfg.skip),
        "--pii-model": cfg.pii_model and str(Path(cfg.pii_model).resolve()),
        "--malware-db": cfg.malware_db and {
            str(f.relative_to(cfg.malware_db)): [f.stat().st_size, fingerprint(f)]
            for f in sorted(Path(cfg.malware_db).iterdir()) if f.is_file()
        },
        "--write-removed": cfg.write_removed,
        "--compression": cfg.compression,
        "--tasks": cfg.tasks or len(files),
    }


def claim_output(cfg: CurationConfig) -> None:
    """Record the output's input and options in `options.json`, or check that a re-run (which resumes) has the
    same: finished tasks are never redone, so other ones would pass the old records off as theirs."""
    path, options = Path(cfg.output, "options.json"), output_options(cfg)
    start_anew = f"choose a new --output (or remove {cfg.output}) to start anew"
    if path.is_file():
        recorded = json.loads(path.read_text())
        differ = [flag for flag, value in options.items() if recorded.get(flag) != value]
        if differ:
            raise ValueError(f"--output {cfg.output} was made from other {', '.join(differ)}: re-run with the "
                             f"same input and options to resume it, or {start_anew}")
        return
    if Path(cfg.output).is_dir() and any(Path(cfg.output).iterdir()):
        raise ValueError(f"--output {cfg.output} holds files but no options.json (not a run of this curate.py): "
                         f"{start_anew}")
    Path(cfg.output).mkdir(parents=True, exist_ok=True)
    write_json_atomically(options, str(path))


def run(cfg: CurationConfig, log: Callable[[str], None] = print) -> None:
    """Runs every stage in turn, logging one line as each starts (local), or submits them as a chain of
    dependent jobs (SLURM)."""
    stages = build_stages(cfg)
    if cfg.malware_db:
        try:
            check_database(cfg.malware_db)
        except ClamdError as error:
            raise ValueError(f"--malware-db {cfg.malware_db}: {error}") from None
    claim_output(cfg)
    if cfg.executor == "slurm":
        executor = None
        for stage in stages:
            executor = _executor(cfg, stage, executor)
        executor.run()
        return
    start = time.perf_counter()
    if not cfg.verbose:
        logger.disable("datatrove.executor.local")
    try:
        for number, stage in enumerate(stages, 1):
            executor = _executor(cfg, stage, None)
            done = stage.tasks - len(executor.get_incomplete_ranks())
            tasks = f"{stage.tasks} task{'s' if stage.tasks > 1 else ''}{f', {done} done before' if done else ''}"
            log(f"stage {number}/{len(stages)} {stage.name}, {tasks} ({time.perf_counter() - start:.1f} s elapsed)")
            executor.run()
    finally:
        logger.enable("datatrove.executor.local")
