"""A fetch run as datatrove pipeline stages, on its local or SLURM executor, as preprocessing runs (preprocess_tasks).

    fetch    N tasks: task i fetches its contiguous share of the chunks into WORK/chunks   (chunks.Fetcher)
    publish  1 task: every chunk done, the bad objects within --max-bad-fraction: OUTPUT/data/*.jsonl and
             OUTPUT/stats.json appear by one rename; else nothing is published

WORK is `{output}.tasks/`. Rerunning the same command skips completed tasks and, inside the others, chunks done
and objects journaled: no object is fetched twice. WORK/config.json refuses a rerun with other inputs or options.
"""

from __future__ import annotations

import json
import os
import shutil
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path

from datatrove.executor import SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

from megatron_sc2.data.inputs import expand_inputs
from megatron_sc2.data.preprocess_tasks import LocalExecutor, TaskFailed, require_completed, task_log
from megatron_sc2.fetching.chunks import Fetcher, Meter, Rows, plan, task_chunks
from megatron_sc2.fetching.objects import BAD_REASONS, Unavailable, client
from megatron_sc2.fetching.shapes import SHAPES, Shape, check_columns, detect
from megatron_sc2.publish import fresh_folder, rename_into_place, write_text

RUN_ONLY = ("endpoint_url", "concurrency", "workers")  # options that do not change what a task writes


@dataclass
class FetchConfig:
    inputs: list[str]
    output: str
    schema: str | None  # a SHAPES key; None: detected from the first file's columns
    source: str | None  # the records' `source` (their dataset in the manifests); None: the shape's name
    bucket: str = "softwareheritage"
    endpoint_url: str | None = None
    concurrency: int = 64
    rows_per_chunk: int = 1000
    max_bad_fraction: float = 0.01
    workers: int = 1


def work_folder(config: FetchConfig) -> Path:
    return Path(f"{config.output}.tasks")


def input_files(config: FetchConfig) -> list[Path]:
    files = expand_inputs(config.inputs)
    if not_parquet := [f for f in files if not f.name.endswith(".parquet")]:
        raise ValueError(f"--input {not_parquet[0]}: the published datasets are Parquet files; give those")
    return files


def shape_of(config: FetchConfig, files: list[Path]) -> Shape:
    """The --schema, or the shape the first file's columns fit; every file is checked to have its columns."""
    import pyarrow.parquet as pq

    shape = SHAPES[config.schema] if config.schema else None
    for path in files:
        columns = pq.ParquetFile(path).schema_arrow.names
        shape = shape or detect(columns)
        check_columns(shape, columns, str(path))
    return shape


class FetchTask(PipelineStep):
    name = "📥 fetch_contents.py"

    def __init__(self, config: FetchConfig, stage: str, tasks: int):
        self.type = f"📥 - {stage.upper()}"
        super().__init__()
        self.config, self.stage, self.tasks = config, stage, tasks

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        work = work_folder(self.config)
        try:
            if self.stage == "publish":
                require_completed(work, "fetch", self.tasks)
                for name, value in publish(self.config).items():
                    self.stat_update(name, value=value)
                return data
            meter = fetch_share(self.config, rank, world_size)
        except (TaskFailed, BadObjects):
            raise
        except (Unavailable, OSError, ValueError) as error:
            raise TaskFailed(f"{self.stage} task {rank} of {world_size}: {error} (log: "
                             f"{task_log(work, self.stage, rank)}); rerunning the same command goes on from "
                             "where it stopped") from error
        self.stat_update("objects", value=meter.objects)
        self.stat_update("bad_objects", value=meter.bad)
        return data


def fetch_share(config: FetchConfig, rank: int, tasks: int) -> Meter:
    files = input_files(config)
    shape = shape_of(config, files)
    fetcher = Fetcher(shape, config.source or shape.name,
                      client(config.endpoint_url, config.concurrency) if shape.fetched else None,
                      config.bucket, config.concurrency)
    folder = work_folder(config) / "chunks"
    folder.mkdir(parents=True, exist_ok=True)
    rows, meter = Rows(files), Meter(logger.info, f"fetch task {rank}")
    for chunk in task_chunks(plan(files, config.rows_per_chunk), rank, tasks):
        if not (folder / f"{chunk.name}.stats.json").is_file():
            fetcher.run(rows.of(chunk), folder, chunk.name, meter)
    meter.report()
    return meter


class BadObjects(RuntimeError):
    """More objects were bad than --max-bad-fraction allows: nothing was published."""


def totals(config: FetchConfig, names: list[str]) -> dict:
    folder, counts = work_folder(config) / "chunks", Counter()
    bad = Counter()
    for name in names:
        stats = json.loads((folder / f"{name}.stats.json").read_text())
        bad.update(stats.pop("bad"))
        counts.update(stats)
    objects = counts["objects"]
    return {**dict(counts), "bad": {reason: bad[reason] for reason in BAD_REASONS if bad[reason]},
            "bad_objects": sum(bad.values()), "bad_fraction": round(sum(bad.values()) / max(objects, 1), 6)}


def publish(config: FetchConfig) -> dict[str, int]:
    """OUTPUT/data/*.jsonl and OUTPUT/stats.json, by one rename, if the bad objects are few enough."""
    files = input_files(config)
    names = [chunk.name for chunk in plan(files, config.rows_per_chunk)]
    stats = totals(config, names)
    if stats["bad_fraction"] > config.max_bad_fraction:
        reasons = ", ".join(f"{n:,} {reason}" for reason, n in stats["bad"].items())
        raise BadObjects(f"{stats['bad_objects']:,} of {stats['objects']:,} objects are bad ({reasons}: "
                         f"{stats['bad_fraction']:.2%}), more than --max-bad-fraction {config.max_bad_fraction:.2%}; "
                         f"nothing was published (counts by chunk in {work_folder(config) / 'chunks'})")
    work = work_folder(config)
    staged = fresh_folder(work / "publish")
    (staged / "data").mkdir()
    for name in names:
        os.link(work / "chunks" / f"{name}.jsonl", staged / "data" / f"{name}.jsonl")
    write_text(staged / "stats.json", json.dumps({**stats, "complete": True}, indent=2) + "\n")
    rename_into_place(staged, Path(config.output))
    shutil.rmtree(work / "chunks")
    return {k: v for k, v in stats.items() if isinstance(v, int)}


def claim_work(config: FetchConfig, files: list[Path], tasks: int) -> None:
    """Record in WORK/config.json what the tasks are made of, or check that a rerun has the same."""
    work = work_folder(config)
    options = {key: value for key, value in asdict(config).items() if key not in RUN_ONLY}
    options["tasks"] = tasks
    options["input files"] = {str(f): [f.stat().st_size, f.stat().st_mtime_ns] for f in files}
    path = work / "config.json"
    if path.is_file():
        recorded = json.loads(path.read_text())
        differ = [key for key in options if recorded.get(key) != options[key]]
        if differ:
            raise ValueError(f"{work} holds the tasks of a run with other {', '.join(differ)}: rerun with the same "
                             f"input and options to resume it, or delete {work} to start anew")
        return
    work.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(options, indent=2) + "\n")


def run_tasks(config: FetchConfig, kind: str, tasks: int, slurm_partition: str | None = None,
              slurm_time: str = "24:00:00") -> None:
    """Run (local) or submit (SLURM) the fetch tasks, then the publication."""
    config.output = os.path.abspath(config.output)
    if Path(config.output).exists():
        raise ValueError(f"--output {config.output} exists (a published fetch?): choose a new folder, or delete it")
    files = input_files(config)
    shape = shape_of(config, files)
    config.schema, config.source = shape.name, config.source or shape.name
    chunks = len(plan(files, config.rows_per_chunk))
    if tasks > chunks:
        raise ValueError(f"--tasks {tasks}: the input makes only {chunks} chunk(s) of --rows-per-chunk "
                         f"{config.rows_per_chunk} rows; use fewer tasks")
    claim_work(config, files, tasks)
    logs = work_folder(config) / "logs"
    job = None
    for stage, count in (("fetch", tasks), ("publish", 1)):
        step = FetchTask(config, stage, tasks)
        if kind == "local":
            parallel = max(1, min(count, config.workers))
            job = LocalExecutor([step], tasks=count, workers=parallel, logging_dir=str(logs / stage), depends=job)
        else:
            job = SlurmPipelineExecutor([step], tasks=count, time=slurm_time, partition=slurm_partition,
                                        job_name=f"fetch_{stage}", logging_dir=str(logs / stage), depends=job,
                                        cpus_per_task=2, run_on_dependency_fail=job is not None)
    job.run()
