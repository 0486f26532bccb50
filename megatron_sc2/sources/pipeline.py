"""One source's run: reader -> filters -> pseudonyms -> renderer -> writer on datatrove's local executor, then
curation's input check and `stats.json` (removals by reason). The rendered records are published to
OUTPUT/data only when the check passes."""

import functools
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from datatrove.executor import LocalPipelineExecutor
from datatrove.utils.logging import logger

from megatron_sc2 import publish
from megatron_sc2.curation.pipeline import QuietLocalExecutor
from megatron_sc2.curation.records import SCHEMAS, RecordWriter, input_files
from megatron_sc2.curation.stats import check_input, summarize, write_json_atomically
from megatron_sc2.sources import SOURCES
from megatron_sc2.sources.blocks import ConversationReader, Pseudonymize, RecordFilter, Render

STAGE = "filter"  # the name curation's input check reads


def pipeline(source_name: str, input_folder: str, rendered: str, seed: int, options) -> list:
    source = SOURCES[source_name]
    input_format, _ = input_files(input_folder)
    steps = [ConversationReader(input_folder, input_format, source.id_key)]
    steps += [RecordFilter(check, seed) for check in source.filters(options)]
    if source.pseudonymize:
        steps.append(Pseudonymize(source.pseudonymize))
    steps.append(Render(functools.partial(source.render, options=options), seed))
    steps.append(RecordWriter(rendered, SCHEMAS["default"], compression=None))
    return steps


def run(source_name: str, input_folder: str, output: str, seed: int, options, tasks: int | None = None,
        workers: int = 1, max_bad_fraction: float = 0.01, verbose: bool = False,
        log: Callable[[str], None] = print) -> dict:
    """Renders `input_folder` into OUTPUT/data; returns the summary written to OUTPUT/stats.json."""
    out = Path(output)
    if out.exists() and any(out.iterdir()):
        raise ValueError(f"--output {output} is not empty: choose a new folder")
    _, files = input_files(input_folder)
    rendered, logs = out / "work" / "rendered", out / "logs"
    tasks = tasks or len(files)
    executor = (LocalPipelineExecutor if verbose else QuietLocalExecutor)(
        pipeline(source_name, input_folder, str(rendered), seed, options), tasks=tasks,
        workers=min(workers, tasks), logging_dir=str(logs / STAGE),
    )
    start = time.perf_counter()
    log(f"rendering {source_name}, {tasks} task{'s' if tasks > 1 else ''}")
    if not verbose:
        logger.disable("datatrove.executor.local")
    try:
        executor.run()
    finally:
        logger.enable("datatrove.executor.local")
    summary = summarize(str(logs), [STAGE])
    write_json_atomically(summary, str(out / "stats.json"))
    check_input(summary, input_folder, max_bad_fraction)
    publish.rename_into_place(rendered, out / "data")
    shutil.rmtree(out / "work", ignore_errors=True)
    log(f"done in {time.perf_counter() - start:.1f} s")
    return summary
