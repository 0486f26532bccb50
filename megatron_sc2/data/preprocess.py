"""JSONL / Parquet code corpora -> Megatron `{prefix}_{key}_document.bin/.idx` token datasets.

The pipeline is one reading thread and `workers` encoding threads: the main thread reads, parses and
validates records and writes finished documents through megatron-core's `IndexedDatasetBuilder`;
the encoders (tiktoken or Hugging Face, both release the GIL) run in a thread pool on batches of
about a megabyte, at most two per thread in flight, so memory stays bounded and output order is
input order. Outputs are written under `.partial` names and only renamed when the run succeeds.
"""

from __future__ import annotations

import logging
import os
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from megatron_sc2.data.dataset_writer import DatasetWriter, dataset_prefix
from megatron_sc2.data.fast_encoder import Encoder, build_encoder
from megatron_sc2.data.inputs import CorruptInput, expand_inputs, read_records
from megatron_sc2.data.partitions import file_range, repo_hash_range
from megatron_sc2.data.preprocess_stats import ProgressMeter, RunStats
from megatron_sc2.data.records import Skip, parse, text_field
from megatron_sc2.data.repo_context import Part, RepoFormat, RepoSpill, repo_hash
from megatron_sc2.data.special_tokens import FILE_SEP, REPO_NAME
from megatron_sc2.data.tokenizer import load_tokenizer

logger = logging.getLogger(__name__)

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
    repo_key: str = "repo_name"
    path_key: str = "path"
    seed: int = 1234
    max_document_bytes: int | None = 16 * 2**20
    max_bad_fraction: float = 0.01
    partition_index: int = 0
    num_partitions: int = 1


class BadInputError(RuntimeError):
    """Too large a fraction of the input was bad; nothing was published."""


@dataclass
class Document:
    key: str
    parts: list[Part]  # text to encode, or token ids
    text_bytes: int


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
            yield from read_records(
                path, columns, lambda position, before=finished: meter.advance(before + position)
            )
        except CorruptInput as error:
            meter.log(f"skipping the rest of a corrupt input file: {error}")
            meter.stats.record(["corrupt_file"])
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
    for record in _records(files, config.json_keys, meter):
        reasons = []
        try:
            obj = parse(record)
            for key in config.json_keys:
                try:
                    text = text_field(obj, key, config.max_document_bytes)
                except Skip as skip:
                    reasons.append(skip.reason)
                    continue
                yield Document(key, [text, *suffix], len(text.encode("utf-8")))
        except Skip as skip:
            reasons.append(skip.reason)
        stats.record(reasons)


def repo_documents(
    config: PreprocessConfig, files: list[Path], tokenizer, spill_dir: Path, meter: ProgressMeter
) -> Iterator[Document]:
    """One document per repository (see repo_context), after grouping all files on disk."""
    (key,) = config.json_keys
    repo_format = RepoFormat(
        tokenizer.token_id(REPO_NAME), tokenizer.token_id(FILE_SEP), tokenizer.eod, config.seed,
        config.max_document_bytes,
    )  # fmt: skip
    input_bytes = sum(f.stat().st_size for f in files)
    spill = RepoSpill(spill_dir, input_bytes, repo_hash_range(config.partition_index, config.num_partitions))
    stats, log = meter.stats, meter.log
    grouping = ProgressMeter(stats, "files grouped", config.log_interval, log)
    grouping.start(input_bytes)
    for record in _records(files, [key, config.repo_key, config.path_key], grouping):
        try:
            obj = parse(record)
            repo = text_field(obj, config.repo_key, allow_empty=True)
            path = text_field(obj, config.path_key, allow_empty=True)
            content = text_field(obj, key, config.max_document_bytes)
        except Skip as skip:
            stats.record([skip.reason])
            continue
        repo_key = repo_hash(repo)
        if spill.owns(repo_key):
            spill.add(repo_key, repo, path, content)
            stats.record()
        grouping.tick(stats.records)
    log(f"grouped {stats.records:,} files into {spill.num_buckets} bucket(s), {spill.bytes / 1e6:,.1f} MB")
    meter.start(spill.bytes)
    for repo, repo_files, content, done in spill.repositories():
        for parts in repo_format.documents(repo, repo_files, content):
            yield Document(key, parts, sum(len(p.encode("utf-8")) for p in parts if isinstance(p, str)))
        meter.advance(done)


def preprocess(config: PreprocessConfig, log: Callable[[str], None] = logger.info) -> RunStats:
    """Run the whole job; on any failure nothing that looks like a finished dataset is left behind."""
    if config.repo_context and len(config.json_keys) != 1:
        raise ValueError(
            f"--repo-context takes one --json-keys entry (the file content), got {config.json_keys}"
        )
    files = expand_inputs(config.inputs)
    tokenizer = load_tokenizer(config.tokenizer_type, config.tokenizer_model)
    encoder = build_encoder(config.tokenizer_type, config.tokenizer_model, tokenizer, log)
    from megatron.core.datasets.indexed_dataset import DType  # slow to import: after the checks

    log(f"{len(files)} input file(s); encoder: {encoder.name}, {config.workers} worker thread(s)")
    Path(config.output_prefix).parent.mkdir(parents=True, exist_ok=True)
    dtype = DType.optimal_dtype(tokenizer.vocab_size)
    stats = RunStats()
    spill_dir = Path(f"{config.output_prefix}.repo-spill.{os.getpid()}")
    writers: dict[str, DatasetWriter] = {}
    try:
        for key in config.json_keys:
            writers[key] = DatasetWriter(dataset_prefix(config.output_prefix, key), dtype)
        meter = ProgressMeter(stats, "documents written", config.log_interval, log)
        if config.repo_context:
            documents = repo_documents(config, files, tokenizer, spill_dir, meter)
        else:
            documents = plain_documents(config, files, tokenizer.eod, meter)
        for written, (document, tokens) in enumerate(
            encode_in_order(encoder, documents, config.workers, not config.repo_context), 1
        ):
            writers[document.key].add(tokens)
            stats.written(document.key, len(tokens))
            stats.text_bytes += document.text_bytes
            meter.tick(written)
        if stats.bad_fraction > config.max_bad_fraction:
            raise BadInputError(
                f"{stats.bad_records:,} of {stats.records:,} records are bad ({stats.bad_fraction:.2%}), "
                f"more than --max-bad-fraction {config.max_bad_fraction:.2%}; nothing was written"
            )
        for writer in writers.values():
            writer.publish()
    except BaseException:
        for writer in writers.values():
            writer.discard()
        stats.write_json(stats_path(config.output_prefix), complete=False, extra={"encoder": encoder.name})
        for line in stats.summary():
            log(line)
        raise
    finally:
        shutil.rmtree(spill_dir, ignore_errors=True)
    stats.write_json(stats_path(config.output_prefix), complete=True, extra={"encoder": encoder.name})
    for line in stats.summary():
        log(line)
    return stats
