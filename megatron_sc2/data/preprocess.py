"""JSONL / Parquet code corpora -> Megatron `{prefix}_{key}_document.bin/.idx` token datasets.

The pipeline is one reading thread and `workers` encoding threads: the main thread reads, parses and
validates records and writes finished documents through index_writer (megatron-core's format);
the encoders (tiktoken or Hugging Face, both release the GIL) run in a thread pool on batches of
about a megabyte, at most two per thread in flight, so memory stays bounded and output order is
input order. The run owns the output prefix (see dataset_writer.dataset_output); outputs are written in
its staging folder and only renamed into place when the run succeeds.
"""

from __future__ import annotations

import logging
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from megatron_sc2.data.dataset_writer import DatasetWriter, dataset_output, dataset_prefix
from megatron_sc2.data.fast_encoder import Encoder, build_encoder
from megatron_sc2.data.inputs import CorruptInput, expand_inputs, input_folders, read_records
from megatron_sc2.data.manifest import manifest_path
from megatron_sc2.data.partitions import file_range, repo_hash_range
from megatron_sc2.data.preprocess_stats import ProgressMeter, RunStats
from megatron_sc2.data.records import Skip, parse, text_field
from megatron_sc2.data.repo_context import Part, RepoFormat, RepoSpill, repo_hash
from megatron_sc2.data.repo_routing import Router, reader_folder, routed_files, routed_paths
from megatron_sc2.data.special_tokens import FILE_SEP, REPO_NAME
from megatron_sc2.data.tokenizer import load_tokenizer
from megatron_sc2.data.tokenizer_record import record_path, tokenizer_record
from megatron_sc2.publish import Output

logger = logging.getLogger(__name__)

# The repository's key when --repo-key is not given: The Stack v2's, then curate.py's default schema's.
REPO_KEYS = ("repo_name", "repository")
BATCH_BYTES = 1 << 20
BATCH_DOCUMENTS = 512


@dataclass
class PreprocessConfig:
    inputs: list[str]
    output_prefix: str
    tokenizer_type: str
    tokenizer_model: str
    json_keys: list[str] = field(default_factory=lambda: ["content"])
    append_eod: bool = False
    workers: int = 1
    log_interval: int = 1000
    repo_context: bool = False
    repo_key: str | None = None  # None: REPO_KEYS
    path_key: str = "path"
    seed: int = 1234
    max_document_bytes: int | None = 16 * 2**20
    max_bad_fraction: float = 0.01
    partition_index: int = 0
    num_partitions: int = 1
    route_dir: str | None = None  # partitioned --repo-context: the readers' route files (repo_routing)
    route: bool = False  # only pass 1: route this partition's input slice into route_dir
    language_key: str = "language"
    source_key: str = "source"
    command: list[str] = field(default_factory=lambda: list(sys.argv))  # for the manifest


class BadInputError(RuntimeError):
    """Too large a fraction of the input was bad, or none of it makes a document; nothing was published."""


@dataclass
class Document:
    key: str
    parts: list[Part]  # text to encode, or token ids
    text_bytes: int
    labels: dict[str, str | None] = field(default_factory=dict)  # language and source, for the manifest


def stats_path(output_prefix: str) -> Path:
    return Path(f"{output_prefix}_stats.json")


def encode_documents(encoder: Encoder, documents: list[Document], special_tokens: bool) -> list[np.ndarray]:
    texts = [part for document in documents for part in document.parts if isinstance(part, str)]
    encoded = iter(encoder.encode_batch(texts, special_tokens))
    return [
        np.concatenate(
            [next(encoded) if isinstance(p, str) else np.array([p], np.uint32) for p in document.parts]
        )
        for document in documents
    ]


def batched(documents: Iterable[Document]) -> Iterator[list[Document]]:
    batch, size = [], 0
    for document in documents:
        batch.append(document)
        size += document.text_bytes
        if size >= BATCH_BYTES or len(batch) >= BATCH_DOCUMENTS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


def encode_in_order(
    encoder: Encoder, documents: Iterable[Document], workers: int, special_tokens: bool
) -> Iterator[tuple[Document, np.ndarray]]:
    """Documents with their tokens, in input order, encoded by `workers` threads."""
    with ThreadPoolExecutor(workers, thread_name_prefix="encode") as pool:
        pending: deque = deque()
        for batch in batched(documents):
            pending.append((batch, pool.submit(encode_documents, encoder, batch, special_tokens)))
            if len(pending) >= 2 * workers:
                batch, future = pending.popleft()
                yield from zip(batch, future.result())
        while pending:
            batch, future = pending.popleft()
            yield from zip(batch, future.result())


def _records(files: list[Path], columns: list[str], meter: ProgressMeter) -> Iterator:
    """Records of all files; a file that breaks off is logged and counted, and the run goes on."""
    finished = 0  # bytes of the files before the current one
    for path in files:
        try:
            for record in read_records(
                path, columns, lambda position, before=finished: meter.advance(before + position)
            ):
                meter.stats.records_read += 1
                yield record
        except CorruptInput as error:
            meter.log(f"skipping the rest of a corrupt input file: {error}")
            meter.stats.record([Skip("corrupt_file")])
        finished += path.stat().st_size


def plain_documents(
    config: PreprocessConfig, files: list[Path], eod: int, meter: ProgressMeter
) -> Iterator[Document]:
    """One document per record and json key: the text, then EOD if asked (Megatron-LM's layout)."""
    files = [
        files[i]
        for i in file_range([f.stat().st_size for f in files], config.partition_index, config.num_partitions)
    ]
    meter.start(sum(f.stat().st_size for f in files))
    stats = meter.stats
    suffix = [eod] if config.append_eod else []
    columns = [*config.json_keys, config.language_key, config.source_key]
    for record in _records(files, columns, meter):
        skips = []
        try:
            obj = parse(record)
            labels = {"language": _label(obj, config.language_key), "source": _label(obj, config.source_key)}
            for key in config.json_keys:
                try:
                    text = text_field(obj, key, config.max_document_bytes)
                except Skip as skip:
                    skips.append(skip)
                    continue
                yield Document(key, [text, *suffix], len(text.encode("utf-8")), labels)
        except Skip as skip:
            skips.append(skip)
        stats.record(skips)


def _label(obj: dict, key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) and value else None


def repo_files(config: PreprocessConfig, files: list[Path], meter: ProgressMeter,
               sources: set | None = None) -> Iterator[tuple[str, str, str]]:
    """(repository, path, content) of each valid record of `files`; the others are counted. `sources` collects
    the records' sources."""
    (key,) = config.json_keys
    stats = meter.stats
    for record in _records(files, [key, config.repo_key, config.path_key, config.source_key], meter):
        try:
            obj = parse(record)
            if sources is not None:
                sources.add(_label(obj, config.source_key))
            repo = text_field(obj, repository_key(config, obj), allow_empty=True)
            path = text_field(obj, config.path_key, allow_empty=True)
            content = text_field(obj, key, config.max_document_bytes)
        except Skip as skip:
            stats.record([skip])
            continue
        stats.record()
        meter.tick(stats.records)
        yield repo, path, content


def repository_key(config: PreprocessConfig, obj: dict) -> str:
    if config.repo_key is not None:
        return config.repo_key
    return next((key for key in REPO_KEYS if key in obj), REPO_KEYS[0])


def repo_documents(
    config: PreprocessConfig, files: list[Path], tokenizer, spill_dir: Path, meter: ProgressMeter
) -> Iterator[Document]:
    """One document per repository (see repo_context), after grouping all files on disk. A partition
    takes its files from the route files of pass 1 (see repo_routing), a single run from the input."""
    (key,) = config.json_keys
    repo_format = RepoFormat(
        tokenizer.token_id(REPO_NAME), tokenizer.token_id(FILE_SEP), tokenizer.eod, config.seed,
        config.max_document_bytes,
    )  # fmt: skip
    stats, log = meter.stats, meter.log
    grouping = ProgressMeter(stats, "files grouped", config.log_interval, log)
    seen: set[str | None] = set()  # a single run's sources: a dataset of one source is labelled with it
    if config.route_dir is None:
        input_bytes = sum(f.stat().st_size for f in files)
        grouping.start(input_bytes)
        sources = ((*file, None) for file in repo_files(config, files, grouping, seen))
    else:
        routes = routed_paths(Path(config.route_dir), config.partition_index, config.num_partitions)
        input_bytes = sum(route.stat().st_size for route in routes)
        grouping.start(input_bytes)
        sources = routed_files(routes)
    spill = RepoSpill(spill_dir, input_bytes, repo_hash_range(config.partition_index, config.num_partitions))
    for repo, path, content, done in sources:
        spill.add(repo_hash(repo), repo, path, content)
        if done is not None:
            stats.record()
            grouping.advance(done)
            grouping.tick(stats.records)
    log(f"grouped {stats.records:,} files into {spill.num_buckets} bucket(s), {spill.bytes / 1e6:,.1f} MB")
    meter.start(spill.bytes)
    labels = {"source": next(iter(seen))} if len(seen) == 1 else {}
    for repo, repo_files_, content, done in spill.repositories():
        for parts in repo_format.documents(repo, repo_files_, content):
            yield Document(key, parts, sum(len(p.encode("utf-8")) for p in parts if isinstance(p, str)), labels)
        meter.advance(done)


def route(config: PreprocessConfig, files: list[Path], log: Callable[[str], None]) -> RunStats:
    """Pass 1 of a partitioned --repo-context run: this partition's slice of the input files into one
    route file per partition, published whole as `{route_dir}/reader-{index}/` with its stats."""
    sizes = [f.stat().st_size for f in files]
    files = [files[i] for i in file_range(sizes, config.partition_index, config.num_partitions)]
    folder = reader_folder(Path(config.route_dir), config.partition_index)
    folder.parent.mkdir(parents=True, exist_ok=True)
    stats = RunStats()
    meter = ProgressMeter(stats, "files routed", config.log_interval, log)
    meter.start(sum(f.stat().st_size for f in files))
    with dataset_output(str(folder), log) as lock:
        router = Router(lock.staging / folder.name, config.num_partitions)
        try:
            for repo, path, content in repo_files(config, files, meter):
                router.add(repo_hash(repo), repo, path, content)
        finally:
            router.close()
        check_bad_fraction(config, stats)
        lock.check_owner()
        stats.write_json(lock.staging / folder.name / "stats.json", True, {}, lock.staging)
        lock.publish(lock.staging / folder.name, folder)
    log(f"routed {stats.records - stats.bad_records:,} files of {len(files)} input file(s) to "
        f"{config.num_partitions} partitions in {folder}")
    for line in stats.summary()[1:]:  # what was skipped; the first line counts documents, which routing writes none of
        log(line)
    return stats


def check_bad_fraction(config: PreprocessConfig, stats: RunStats) -> None:
    if stats.bad_fraction > config.max_bad_fraction:
        raise BadInputError(
            f"{stats.bad_records:,} of {stats.records:,} records are bad ({stats.bad_fraction:.2%}), "
            f"more than --max-bad-fraction {config.max_bad_fraction:.2%}{_missing_keys(config, stats)}; "
            "nothing was written"
        )


def _missing_keys(config: PreprocessConfig, stats: RunStats) -> str:
    """Records without a key the flags name are more often another schema than bad data: say which."""
    flags = {config.path_key: "--path-key", **dict.fromkeys(config.json_keys, "--json-keys")}
    repo_keys = REPO_KEYS if config.repo_key is None else (config.repo_key,)
    flags[repo_keys[0]] = "--repo-key"
    named = {key: f"{key!r}" for key in flags} | {repo_keys[0]: " or ".join(map(repr, repo_keys))}
    return "".join(f"; {count:,} have no {named.get(key, repr(key))} key (name the records' key with "
                   f"{flags.get(key, '--json-keys')})" for key, count in stats.missing_keys.most_common())


def _nothing_to_write(config: PreprocessConfig, key: str, files: list[Path], stats: RunStats) -> str:
    """An empty dataset is published by no run: training on it fails far from its cause."""
    where = f"{len(files)} input file(s)"
    if config.num_partitions > 1:
        where += f", partition {config.partition_index} of {config.num_partitions} (use fewer partitions)"
    return f"no document for --json-keys {key} in {where}, {stats.records:,} records; nothing was written"


def output_paths(config: PreprocessConfig) -> list[Path]:
    prefixes = [dataset_prefix(config.output_prefix, key) for key in config.json_keys]
    datasets = [Path(prefix + ext) for prefix in prefixes for ext in (".bin", ".idx")]
    records = [*map(record_path, prefixes), *map(manifest_path, prefixes)]
    return [*datasets, *records, stats_path(config.output_prefix)]


def check_outputs(config: PreprocessConfig, files: list[Path]) -> None:
    """Refuse outputs that would overwrite an input or that a later run would read as input."""
    if os.path.basename(config.output_prefix) in ("", ".", ".."):
        raise ValueError(
            f"--output-prefix {config.output_prefix} names a folder; give a file name prefix in it, "
            f"e.g. {Path(config.output_prefix) / 'corpus'}"
        )
    inputs = set(files)
    for path in output_paths(config):
        if path.resolve() in inputs:
            raise ValueError(f"--output-prefix {config.output_prefix} would overwrite the input {path}")
    out_folder = Path(config.output_prefix).resolve().parent
    for folder in input_folders(config.inputs):
        if out_folder.is_relative_to(folder):
            raise ValueError(
                f"--output-prefix {config.output_prefix} is inside the input folder {folder}: a later run "
                "would read its outputs as input; write them elsewhere"
            )


def check_route(config: PreprocessConfig) -> None:
    """A partitioned --repo-context run goes through route files; nothing else does."""
    if (config.route or config.route_dir) and not config.repo_context:
        raise ValueError("--route and --route-dir are for --repo-context runs")
    if config.route and not config.route_dir:
        raise ValueError("--route writes into --route-dir: name the folder that all partitions share")
    if config.repo_context and config.num_partitions > 1 and not config.route_dir:
        raise ValueError(
            f"--repo-context over --num-partitions {config.num_partitions} reads the input in two passes: "
            "run each partition with --route --route-dir DIR, then each with --route-dir DIR"
        )


def check_keys(config: PreprocessConfig) -> None:
    """Each key is one dataset: a key named twice is a typo that would write every document twice."""
    if config.repo_context and len(config.json_keys) != 1:
        raise ValueError(
            f"--repo-context takes one --json-keys entry (the file content), got {config.json_keys}"
        )
    repeated = sorted({key for key in config.json_keys if config.json_keys.count(key) > 1})
    if repeated:
        raise ValueError(f"--json-keys names {', '.join(repeated)} more than once; name each key once")


def preprocess(config: PreprocessConfig, log: Callable[[str], None] = logger.info) -> RunStats:
    """Run the whole job; on any failure nothing that looks like a finished dataset is left behind."""
    check_keys(config)
    check_route(config)
    files = expand_inputs(config.inputs)
    if config.route:
        return route(config, files, log)
    check_outputs(config, files)
    with dataset_output(config.output_prefix, log) as lock:
        return _preprocess(config, files, lock, log)


def _preprocess(
    config: PreprocessConfig, files: list[Path], lock: Output, log: Callable[[str], None]
) -> RunStats:
    tokenizer = load_tokenizer(config.tokenizer_type, config.tokenizer_model)
    encoder = build_encoder(config.tokenizer_type, config.tokenizer_model, tokenizer, log)
    from megatron.core.datasets.indexed_dataset import DType  # slow to import: after the checks

    log(f"{len(files)} input file(s); encoder: {encoder.name}, {config.workers} worker thread(s)")
    dtype = DType.optimal_dtype(tokenizer.vocab_size)
    stats = RunStats()
    writers: dict[str, DatasetWriter] = {}
    record = tokenizer_record(tokenizer)
    provenance = {"inputs": [str(f) for f in files], "command": config.command}
    if config.num_partitions > 1:
        provenance["partition"] = [config.partition_index, config.num_partitions]
    try:
        for key in config.json_keys:
            prefix = dataset_prefix(config.output_prefix, key)
            writers[key] = DatasetWriter(prefix, dtype, lock.staging, record, provenance)
        meter = ProgressMeter(stats, "documents written", config.log_interval, log)
        if config.repo_context:
            documents = repo_documents(config, files, tokenizer, lock.staging / "repo-spill", meter)
        else:
            documents = plain_documents(config, files, tokenizer.eod, meter)
        for written, (document, tokens) in enumerate(
            encode_in_order(encoder, documents, config.workers, not config.repo_context), 1
        ):
            writers[document.key].add(tokens, document.labels)
            stats.written(document.key, len(tokens))
            stats.text_bytes += document.text_bytes
            meter.tick(written)
        check_bad_fraction(config, stats)
        for key in config.json_keys:
            if not stats.documents[key]:
                raise BadInputError(_nothing_to_write(config, key, files, stats))
        lock.check_owner()
        for writer in writers.values():
            writer.publish()
    except BaseException:
        for writer in writers.values():
            writer.discard()
        if lock.owns():
            stats.write_json(stats_path(config.output_prefix), False, {"encoder": encoder.name}, lock.staging)
        for line in stats.summary():
            log(line)
        raise
    stats.write_json(stats_path(config.output_prefix), True, {"encoder": encoder.name}, lock.staging)
    for line in stats.summary():
        log(line)
    return stats
