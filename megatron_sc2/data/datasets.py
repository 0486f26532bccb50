"""Train/valid/test datasets: megatron-core's GPTDataset over `--data-path` blends, with StarCoder2 FIM.

megatron-core does the work (document/sample/shuffle indices, blending, index caches); this
module adapts our tokenizer to it and adds FIM as a GPTDataset subclass that rewrites each
packed window of `seq_length + 1` tokens before GPTDataset derives tokens, labels, loss mask
and positions from it, so labels always stay the tokens shifted by one.
"""

from __future__ import annotations

import functools
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
from megatron.core.datasets.utils import Split, get_blend_from_list

from megatron_sc2 import mcore_compat
from megatron_sc2.data import index_check
from megatron_sc2.data.fim import FIMConfig, FIMTransform
from megatron_sc2.data.index_check import IndexCounts
from megatron_sc2.data.manifest import log_contents
from megatron_sc2.data.tokenizer import Tokenizer
from megatron_sc2.data.tokenizer_record import describe, read_record, record_path, tokenizer_record

logger = logging.getLogger(__name__)


class MegatronCoreTokenizer:
    """The attributes megatron-core's datasets read: `eod`, `vocab_size`, and a cache identity.

    No `pad` on purpose: GPTDataset then pads short windows with -1, which it masks out of the
    loss, instead of a real token id.
    """

    def __init__(self, tokenizer: Tokenizer):
        self.tokenizer = tokenizer
        self.eod = tokenizer.eod
        self.vocab_size = tokenizer.vocab_size
        self.unique_identifiers = {"class": type(tokenizer).__name__, "vocab_size": tokenizer.vocab_size}


@dataclass
class SC2DatasetConfig(GPTDatasetConfig):
    """GPTDatasetConfig plus the FIM settings FIMGPTDataset reads."""

    fim: FIMConfig | None = None


class FIMGPTDataset(mcore_compat.window_transforming_gpt_dataset()):
    """GPTDataset whose windows go through StarCoder2 FIM.

    A sample's randomness depends only on (seed, dataset name, split, sample index), so it is
    the same on every rank and worker and after any resume.
    """

    def __init__(self, indexed_dataset, dataset_path, indexed_indices, num_samples, index_split, config):
        super().__init__(indexed_dataset, dataset_path, indexed_indices, num_samples, index_split, config)
        self.fim = FIMTransform(config.fim, config.tokenizer.tokenizer)
        name = f"{Path(dataset_path).name}:{index_split.name}".encode()
        self.rng_key = int.from_bytes(hashlib.md5(name, usedforsecurity=False).digest()[:8], "little")

    def transform_window(self, window: np.ndarray, idx: int) -> np.ndarray:
        rng = np.random.default_rng([self.config.random_seed, self.rng_key, idx])
        length = len(window) - np.count_nonzero(window == self.pad_token_id)  # pads only trail
        window[:length] = self.fim(window[:length], rng)
        return window


MCORE_DATASET_LOGGERS = ("megatron.core.datasets.blended_dataset", "megatron.core.datasets.gpt_dataset")


def _without_cache_notice(record: logging.LogRecord) -> bool:
    return "because path_to_cache is None" not in record.getMessage()


def build_datasets(
    data_path: list[str],
    split: str,
    seq_length: int,
    seed: int,
    tokenizer: Tokenizer,
    num_samples: tuple[int, int, int],
    cache_path: str | None = None,
    fim: FIMConfig | None = None,
) -> tuple:
    """The (train, valid, test) datasets; a split with weight 0 in `split` gives None.

    `data_path` is Megatron's `--data-path`: one prefix, or `weight prefix weight prefix ...`.
    `num_samples` is the number of samples each split must provide. Items are GPTDataset's
    dicts: `tokens`, `labels`, `loss_mask`, `position_ids` (no attention mask: the model's
    attention applies the causal / sliding-window mask itself). Call on every rank.
    """
    if not torch.distributed.is_initialized():
        raise RuntimeError(
            "build_datasets needs torch.distributed initialized (one process: a gloo group of 1)"
        )
    blend = get_blend_from_list(list(data_path))
    config = SC2DatasetConfig(
        random_seed=seed,
        sequence_length=seq_length,
        blend=blend,
        split=split,
        path_to_cache=cache_path,
        tokenizer=MegatronCoreTokenizer(tokenizer),
        reset_position_ids=False,
        reset_attention_mask=False,
        eod_mask_loss=False,
        create_attention_mask=False,
        fim=fim,
    )
    for prefix in blend[0]:
        check_prefix(prefix, config)
        check_tokenizer(prefix, tokenizer)
        log_contents(prefix)
    if cache_path is None:
        for name in MCORE_DATASET_LOGGERS:  # their "path_to_cache is None" notices, said here instead
            logging.getLogger(name).addFilter(_without_cache_notice)
        if len(blend[0]) > 1:
            logger.info("--data-path blends %d datasets: without --data-cache-path, the blend's indices are built "
                        "in memory at every start; --data-cache-path DIR caches them", len(blend[0]))
    dataset_class = FIMGPTDataset if fim is not None and fim.rate > 0 else GPTDataset
    builder = BlendedMegatronDatasetBuilder(dataset_class, list(num_samples), lambda: True, config)
    return tuple(builder.build())


class DatasetError(ValueError):
    """A --data-path prefix that training cannot use; the message names it and what to do."""


def check_prefix(prefix: str, config: GPTDatasetConfig) -> None:
    """Fail on every rank with a message naming the prefix, where megatron-core would fail on
    rank 0 alone (missing files), late (a truncated .bin), cryptically (a .bin and .idx from
    different runs) or loop forever (a split with no documents)."""
    missing = [f"{prefix}{ext}" for ext in (".bin", ".idx") if not Path(f"{prefix}{ext}").is_file()]
    if missing:
        hint = ""
        if Path(f"{prefix}_content_document.idx").is_file():
            hint = f"; did you mean {prefix}_content_document?"
        raise DatasetError(f"--data-path prefix {prefix}: {' and '.join(missing)} not found{hint}")
    num_documents = check_index(prefix).sequences
    for split, bounds in zip(Split, config.split_matrix):
        if bounds is not None and round(bounds[0] * num_documents) == round(bounds[1] * num_documents):
            raise DatasetError(
                f"--split {config.split} gives the {split.name} split none of the {num_documents} "
                f"documents of {prefix}: give it a larger share, or 0 to drop it"
            )


def check_index(prefix: str) -> IndexCounts:
    """index_check's counts of `prefix`, or a DatasetError naming the prefix."""
    try:
        return index_check.check_index(prefix)
    except ValueError as error:
        raise DatasetError(f"--data-path prefix {prefix}: {error}; re-run tools/preprocess_data.py for this "
                           "prefix") from None


def record_problem(prefix: str, tokenizer: Tokenizer) -> str | None:
    """What is wrong with the tokenizer record of `prefix` (damaged, or another tokenizer's), if anything."""
    try:
        record = read_record(prefix)
    except ValueError as error:
        return f"--data-path prefix {prefix}: {error}"
    if record is None or record["sha256"] == tokenizer.identity:
        return None
    return (f"--data-path prefix {prefix} was made by {describe(record)}; --tokenizer-model {tokenizer.path} is "
            f"{describe(tokenizer_record(tokenizer))}: train with the tokenizer that made it, or re-run "
            f"tools/preprocess_data.py with {tokenizer.path}")


# Another tokenizer's larger vocabulary shows in its first tokens: ids past ours are common, not rare.
SCANNED_TOKENS = 1 << 22


@functools.cache  # once per process: every stage builds its datasets
def check_tokenizer(prefix: str, tokenizer: Tokenizer) -> None:
    """Refuse a dataset made by another tokenizer: its record names another one, or (without a record,
    as Megatron-LM's tools write) its first SCANNED_TOKENS tokens hold ids past our vocabulary, which
    the embedding would fail on or learn garbage from."""
    problem = record_problem(prefix, tokenizer)
    if problem:
        raise DatasetError(problem)
    if read_record(prefix) is not None:
        return
    ours = tokenizer_record(tokenizer)
    redo = f"train with the tokenizer that made it, or re-run tools/preprocess_data.py with {tokenizer.path}"
    dtype = check_index(prefix).dtype
    largest = int(np.fromfile(f"{prefix}.bin", dtype=dtype, count=SCANNED_TOKENS).max(initial=0))
    if largest >= tokenizer.vocab_size:
        raise DatasetError(f"--data-path prefix {prefix} holds token id {largest:,}, past the "
                           f"{tokenizer.vocab_size:,} tokens of --tokenizer-model {tokenizer.path} "
                           f"({describe(ours)}): it was made by another tokenizer; {redo}")
    logger.info("--data-path prefix %s has no %s (not written by tools/preprocess_data.py): its token ids "
                "fit --tokenizer-model %s, which is assumed to have made it",
                prefix, record_path(prefix).name, tokenizer.path)
