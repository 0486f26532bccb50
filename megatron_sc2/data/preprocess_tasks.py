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
and WORK/config.json refuses a rerun with other input or options, whose tasks would not fit together.
"""

from __future__ import annotations

import json
import os
import shutil
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor, SlurmPipelineExecutor
from datatrove.pipeline.base import PipelineStep
from datatrove.utils.logging import logger

from megatron_sc2.data.dataset_writer import dataset_prefix
from megatron_sc2.data.inputs import expand_inputs
from megatron_sc2.data.merge import merge_datasets
from megatron_sc2.data.partitions import file_range
from megatron_sc2.data.preprocess import PreprocessConfig, check_keys, check_outputs, preprocess
from megatron_sc2.publish import write_text

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


def require_completed(work: Path, stage: str, tasks: int) -> None:
    """datatrove marks a task completed only once it returned: the others failed, or never ran."""
    missing = [r for r in range(tasks) if not (work / "logs" / stage / "completions" / f"{r:05d}").is_file()]
    if missing:
        raise TaskFailed(
            f"{stage} task(s) {', '.join(map(str, missing))} of {tasks} did not complete (log: "
            f"{task_log(work, stage, missing[0])}); rerun the same command to run them again"
        )


class PreprocessTask(PipelineStep):
    """Task `rank` of a stage: one partition of preprocess() (pass 1 only for `route`), or the merge."""

    type = "🔢 - TOKENIZE"
    name = "🔢 preprocess_data.py"

    def __init__(self, config: PreprocessConfig, stage: str, previous: str | None, tasks: int):
        super().__init__()
        self.config, self.stage, self.previous, self.tasks = config, stage, previous, tasks

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        warnings.filterwarnings("ignore", module="megatron")  # as the tool does, in each task's process
        work = work_folder(self.config.output_prefix)
        if self.previous:
            require_completed(work, self.previous, self.tasks)
        try:
            if self.stage == "merge":
                merge_partitions(self.config, self.tasks)
            else:
                stats = preprocess(partition_config(self.config, self.stage, rank, world_size), log=logger.info)
                for name in ("records_read", "records", "bad_records"):
                    self.stat_update(name, value=getattr(stats, name))
                self.stat_update("documents", value=sum(stats.documents.values()))
                self.stat_update("tokens", value=sum(stats.tokens.values()))
        except Exception as error:
            log = task_log(work, self.stage, rank)
            raise TaskFailed(f"{self.stage} task {rank} of {world_size}: {error} (log: {log}); rerun the same "
                             "command to run it again") from error
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


def merge_partitions(config: PreprocessConfig, tasks: int) -> None:
    work = work_folder(config.output_prefix)
    inputs = [str(f) for f in expand_inputs(config.inputs)]
    for key in config.json_keys:
        parts = [dataset_prefix(part_prefix(config, rank), key) for rank in range(tasks)]
        merge_datasets(parts, dataset_prefix(config.output_prefix, key), logger.info, config.command, inputs)
    shutil.rmtree(work / "route", ignore_errors=True)
    shutil.rmtree(work / "parts")


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
    path = work / "config.json"
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
    stages = ["route"] if config.repo_context and executor.tasks > 1 else []
    stages += ["tokenize", "merge"]
    previous, job = None, None
    for stage in stages:
        step = PreprocessTask(config, stage, previous, executor.tasks)
        job = stage_executor(config, executor, stage, step, job)
        previous = stage
    job.run()
    if executor.kind == "slurm":
        logger.info(f"submitted the stages {', '.join(stages)} as dependent job arrays: the datasets appear at "
                    f"{dataset_prefix(config.output_prefix, '{key}')} when the merge ends; task logs in "
                    f"{work_folder(config.output_prefix)}/logs")


def stage_executor(config: PreprocessConfig, executor: Executor, stage: str, step: PreprocessTask, depends):
    tasks = 1 if stage == "merge" else executor.tasks
    logging_dir = str(work_folder(config.output_prefix) / "logs" / stage)
    if executor.kind == "local":  # as many tasks at once as their --workers threads fit on the cores
        parallel = max(1, min(tasks, len(os.sched_getaffinity(0)) // config.workers))
        return LocalPipelineExecutor([step], tasks=tasks, workers=parallel, logging_dir=logging_dir,
                                     depends=depends)
    return SlurmPipelineExecutor(
        [step], tasks=tasks, time=executor.slurm_time, partition=executor.slurm_partition,
        job_name=f"preprocess_{stage}", logging_dir=logging_dir, depends=depends, cpus_per_task=config.workers,
        run_on_dependency_fail=depends is not None,
    )  # fmt: skip
