"""A partitioned preprocessing run as datatrove pipeline stages, on its local or SLURM executor.

    route     --repo-context only, N tasks: task i routes input slice i into WORK/route   (preprocess.route)
    tokenize  N tasks: task i writes partition i as WORK/parts/p{i}                        (preprocess)
    merge     1 task: the partitions, in order, into --output-prefix; then WORK/route and
              WORK/parts are deleted                                                   (merge_datasets)

WORK is `{output_prefix}.tasks/`. Partitions merged in order are a single run's bytes (see partitions).
Each stage runs after the one before has ended (on SLURM: a job array depending on the previous one,
whatever its outcome) and first checks that every task before it completed, else fails naming them.
datatrove keeps each stage's task logs, counters (`records_read`, `documents`, ...) and completions in
WORK/logs/{stage}/: rerunning the same command skips the completed tasks and runs the others again,
and WORK/config.json refuses a rerun with other input, options or tokenizer, whose tasks would not fit
together (a WORK without it holds tasks of an unknown run: they are deleted). The merge holds each
partition to its own index first; a damaged one loses its completion mark, so a rerun writes it again.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import sys
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor, SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

from megatron_sc2.data.dataset_writer import dataset_prefix
from megatron_sc2.data.index_check import check_index
from megatron_sc2.data.inputs import expand_inputs
from megatron_sc2.data.manifest import read_manifest
from megatron_sc2.data.merge import merge_datasets
from megatron_sc2.data.partitions import file_range
from megatron_sc2.data.preprocess import PreprocessConfig, check_keys, check_outputs, preprocess
from megatron_sc2.data.tokenizer import load_tokenizer
from megatron_sc2.publish import write_text

log = logging.getLogger(__name__)

RUN_ONLY = ("command", "workers", "log_interval")  # options that do not change what a task writes


@dataclass
class Executor:
    """Which of datatrove's executors runs the stages, and how many partitions they make."""

    kind: str  # "local" or "slurm"
    tasks: int
    slurm_partition: str | None = None
    slurm_time: str = "24:00:00"


class TaskFailed(RuntimeError):
    """A task of a stage failed, or a stage found tasks of the one before it incomplete."""


def work_folder(output_prefix: str) -> Path:
    return Path(f"{output_prefix}.tasks")


def task_log(work: Path, stage: str, rank: int) -> Path:
    return work / "logs" / stage / "logs" / f"task_{rank:05d}.log"


def completion(work: Path, stage: str, rank: int) -> Path:
    return work / "logs" / stage / "completions" / f"{rank:05d}"


def require_completed(work: Path, stage: str, tasks: int) -> None:
    """datatrove marks a task completed only once it returned: the others failed, or never ran."""
    missing = [r for r in range(tasks) if not completion(work, stage, r).is_file()]
    if missing:
        raise TaskFailed(
            f"{stage} task(s) {', '.join(map(str, missing))} of {tasks} did not complete (log: "
            f"{task_log(work, stage, missing[0])}); rerunning the same command runs them again"
        )


class PreprocessTask(PipelineStep):
    """Task `rank` of a stage: one partition of preprocess() (pass 1 only for `route`), or the merge."""

    name = "🔢 preprocess_data.py"

    def __init__(self, config: PreprocessConfig, stage: str, previous: str | None, tasks: int):
        self.type = f"🔢 - {stage.upper()}"  # before datatrove names the step's stats after it
        super().__init__()
        self.config, self.stage, self.previous, self.tasks = config, stage, previous, tasks

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        warnings.filterwarnings("ignore", module="megatron")  # as the tool does, in each task's process
        work = work_folder(self.config.output_prefix)
        if self.previous:
            require_completed(work, self.previous, self.tasks)
        try:
            if self.stage == "merge":
                for name, value in merge_partitions(self.config, self.tasks).items():
                    self.stat_update(name, value=value)
                return data
            stats = preprocess(partition_config(self.config, self.stage, rank, world_size), log=logger.info)
        except TaskFailed:
            raise
        except Exception as error:
            raise TaskFailed(f"{self.stage} task {rank} of {world_size}: {error} (log: "
                             f"{task_log(work, self.stage, rank)}); rerunning the same command runs it again") from error
        for name in ("records_read", "bad_records"):
            self.stat_update(name, value=getattr(stats, name))
        if self.stage == "route":
            self.stat_update("files_routed", value=stats.records - stats.bad_records)
        else:
            self.stat_update("records", value=stats.records)
            self.stat_update("documents", value=sum(stats.documents.values()))
            self.stat_update("tokens", value=sum(stats.tokens.values()))
        return data


def part_prefix(config: PreprocessConfig, rank: int) -> str:
    return str(work_folder(config.output_prefix) / "parts" / f"p{rank:05d}")


def partition_config(config: PreprocessConfig, stage: str, rank: int, tasks: int) -> PreprocessConfig:
    route_dir = work_folder(config.output_prefix) / "route"
    return replace(
        config, partition_index=rank, num_partitions=tasks, route=stage == "route",
        route_dir=str(route_dir) if config.repo_context and tasks > 1 else None,
        output_prefix=part_prefix(config, rank),
    )  # fmt: skip


def unmark_damaged(config: PreprocessConfig, tasks: int) -> dict[int, str]:
    """Each completed partition against its own index; a damaged one (cut short, deleted) loses its completion
    mark and its files, so that the tokenize stage writes it again. Returns {rank: problem}."""
    work = work_folder(config.output_prefix)
    damaged = {}
    if completion(work, "merge", 0).is_file():  # merged: the partitions are gone
        return damaged
    for rank in range(tasks):
        if not completion(work, "tokenize", rank).is_file():
            continue
        for key in config.json_keys:
            try:
                check_index(dataset_prefix(part_prefix(config, rank), key))
            except ValueError as error:
                damaged.setdefault(rank, str(error))
    for rank in damaged:
        completion(work, "tokenize", rank).unlink()
        part = Path(part_prefix(config, rank))
        for path in part.parent.glob(f"{part.name}_*"):
            path.unlink()
    return damaged


def merge_partitions(config: PreprocessConfig, tasks: int) -> dict[str, int]:
    """The partitions merged into --output-prefix; the documents, tokens and bytes published."""
    work = work_folder(config.output_prefix)
    damaged = unmark_damaged(config, tasks)
    if damaged:
        raise TaskFailed(f"merge: partition(s) {', '.join(map(str, damaged))} of {tasks} damaged "
                         f"({next(iter(damaged.values()))}); they are marked to be tokenized again: rerun the same "
                         "command")
    inputs = [str(f) for f in expand_inputs(config.inputs)]
    for key in config.json_keys:
        parts = [dataset_prefix(part_prefix(config, rank), key) for rank in range(tasks)]
        merge_datasets(parts, dataset_prefix(config.output_prefix, key), logger.info, config.command, inputs)
    shutil.rmtree(work / "route", ignore_errors=True)
    shutil.rmtree(work / "parts")
    return published_totals(config)


def published(config: PreprocessConfig, key: str) -> dict[str, int]:
    """The documents, tokens and bytes of the published dataset of `key`."""
    prefix = dataset_prefix(config.output_prefix, key)
    manifest = read_manifest(prefix)
    return {"documents": manifest["documents"], "tokens": manifest["tokens"],
            "bytes": Path(f"{prefix}.bin").stat().st_size}


def published_totals(config: PreprocessConfig) -> dict[str, int]:
    counts = [published(config, key) for key in config.json_keys]
    return {name: sum(count[name] for count in counts) for name in counts[0]}


def check_tasks(config: PreprocessConfig, files: list[Path], tasks: int) -> None:
    """Plain partitions are runs of whole input files: one without a file would write nothing."""
    sizes = [f.stat().st_size for f in files]
    if not config.repo_context and any(not file_range(sizes, i, tasks) for i in range(tasks)):
        raise ValueError(
            f"--tasks {tasks}: some partitions would get no input file ({len(files)} file(s), split by "
            "size); use fewer tasks, or more input files"
        )


def claim_work(config: PreprocessConfig, files: list[Path], tasks: int) -> None:
    """Record in WORK/config.json what the tasks are made from, or check that a rerun has the same."""
    work = work_folder(config.output_prefix)
    options = {key: value for key, value in asdict(config).items() if key not in RUN_ONLY}
    options["tasks"] = tasks
    options["input files"] = {str(f): [f.stat().st_size, f.stat().st_mtime_ns] for f in files}
    options["tokenizer"] = load_tokenizer(config.tokenizer_type, config.tokenizer_model).identity
    path = work / "config.json"
    if (work / "logs").exists() and not path.is_file():
        log.warning("%s holds no config.json: its tasks are of an unknown run, deleted; starting anew", work)
        shutil.rmtree(work)
    if path.is_file():
        recorded = json.loads(path.read_text())
        differ = [key for key in options if recorded.get(key) != options[key]]
        if differ:
            raise ValueError(
                f"{work} holds the tasks of a run with other {', '.join(differ)}: rerun with the same input and "
                f"options to resume it, or delete {work} to start anew"
            )
        return
    work.mkdir(parents=True, exist_ok=True)
    write_text(path, json.dumps(options, indent=2) + "\n")


def run_tasks(config: PreprocessConfig, executor: Executor) -> None:
    """Run (local) or submit (SLURM) every stage, each after the one before."""
    config = replace(config, output_prefix=os.path.abspath(config.output_prefix))
    files = expand_inputs(config.inputs)
    check_outputs(config, files)
    check_keys(config)
    check_tasks(config, files, executor.tasks)
    claim_work(config, files, executor.tasks)
    for rank, problem in unmark_damaged(config, executor.tasks).items():
        log.warning("partition %d of a previous run is damaged (%s): tokenizing it again", rank, problem)
    stages = ["route"] if config.repo_context and executor.tasks > 1 else []
    stages += ["tokenize", "merge"]
    previous, job = None, None
    for stage in stages:
        step = PreprocessTask(config, stage, previous, executor.tasks)
        job = stage_executor(config, executor, stage, step, job)
        previous = stage
    job.run()
    if executor.kind == "slurm":
        log.info("submitted the stages %s as dependent job arrays: the datasets appear at %s when the merge ends; "
                 "task logs in %s/logs", ", ".join(stages), dataset_prefix(config.output_prefix, "{key}"),
                 work_folder(config.output_prefix))
        return
    for key in config.json_keys:
        count = published(config, key)
        log.info("published %s.bin/.idx from %d task(s): %s documents, %s tokens, %s bytes",
                 dataset_prefix(config.output_prefix, key), executor.tasks,
                 *(f"{count[name]:,}" for name in ("documents", "tokens", "bytes")))


class LocalExecutor(LocalPipelineExecutor):
    """datatrove's local executor, whose failed task shows on the console only as the tool's one line: datatrove's
    loguru traceback of it goes to the task's log file, not to stderr."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1):
        with contextlib.redirect_stderr(WithoutTracebacks(sys.stderr)):  # datatrove adds its sink per task
            return super()._run_for_rank(rank, local_rank, node_rank)


class WithoutTracebacks:
    """A stream that drops every write holding a traceback (loguru writes a record whole)."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text: str) -> int:
        if "Traceback (most recent call last)" not in text:
            self.stream.write(text)
        return len(text)

    def flush(self) -> None:
        self.stream.flush()


def stage_executor(config: PreprocessConfig, executor: Executor, stage: str, step: PreprocessTask, depends):
    tasks = 1 if stage == "merge" else executor.tasks
    logging_dir = str(work_folder(config.output_prefix) / "logs" / stage)
    if executor.kind == "local":  # as many tasks at once as their --workers threads fit on the cores
        parallel = max(1, min(tasks, len(os.sched_getaffinity(0)) // config.workers))
        return LocalExecutor([step], tasks=tasks, workers=parallel, logging_dir=logging_dir,
                                     depends=depends)
    return SlurmPipelineExecutor(
        [step], tasks=tasks, time=executor.slurm_time, partition=executor.slurm_partition,
        job_name=f"preprocess_{stage}", logging_dir=logging_dir, depends=depends, cpus_per_task=config.workers,
        run_on_dependency_fail=depends is not None,
    )  # fmt: skip
