"""Training datasets: megatron-core GPTDataset over our files, blends, splits, FIM, determinism."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from megatron_sc2.data.datasets import DatasetError, build_datasets
from megatron_sc2.data.fim import FIMConfig
from megatron_sc2.data.special_tokens import FIM_PREFIX
from megatron_sc2.support import free_port

pytestmark = pytest.mark.usefixtures("gloo_group")

REPO_ROOT = Path(__file__).resolve().parents[2]
SEQ = 256
SAMPLES = (200, 20, 5)


def build(data_path, tokenizer, cache, split="90,8,2", fim=None, samples=SAMPLES):
    return build_datasets(data_path, split, SEQ, 1234, tokenizer, samples, cache_path=str(cache), fim=fim)


def window(item) -> np.ndarray:
    """The seq_length + 1 tokens a sample was cut from."""
    return np.concatenate([item["tokens"].numpy(), item["labels"][-1:].numpy()])


def windows(dataset) -> np.ndarray:
    """Every 7th sample's window: what the determinism tests compare."""
    return np.stack([window(dataset[i]) for i in range(0, SAMPLES[0], 7)])


def test_samples_are_windows_of_our_documents(
    stdlib_indexed_dataset, sc2_tokenizer, stdlib_documents, tmp_path
):
    train, valid, test = build([stdlib_indexed_dataset], sc2_tokenizer, tmp_path)
    assert len(train) >= SAMPLES[0] and len(valid) >= SAMPLES[1] and len(test) >= SAMPLES[2]
    stream = b"".join(
        np.array([*ids, sc2_tokenizer.eod], dtype=np.int64).tobytes()
        for ids in sc2_tokenizer.encode_batch(stdlib_documents)
    )
    for dataset in (train, valid, test):
        for i in range(0, len(dataset), max(1, len(dataset) // 10)):
            item = dataset[i]
            assert set(item) == {"tokens", "labels", "loss_mask", "position_ids"}
            assert item["tokens"].shape == item["labels"].shape == (SEQ,)
            assert torch.equal(item["tokens"][1:], item["labels"][:-1])
            assert torch.equal(item["position_ids"], torch.arange(SEQ))
            assert torch.all(item["loss_mask"] == 1.0)
            for piece in np.split(window(item), np.flatnonzero(window(item) == sc2_tokenizer.eod) + 1):
                assert piece.tobytes() in stream


def test_blend_follows_the_weights(stdlib_documents, sc2_tokenizer, tmp_path):
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    prefixes = []
    for name, documents in (("a", stdlib_documents[:20]), ("b", stdlib_documents[20:])):
        builder = IndexedDatasetBuilder(str(tmp_path / f"{name}.bin"), dtype=np.uint16)
        for ids in sc2_tokenizer.encode_batch(documents):
            builder.add_document(np.array([*ids, sc2_tokenizer.eod]), [len(ids) + 1])
        builder.finalize(str(tmp_path / f"{name}.idx"))
        prefixes.append(str(tmp_path / name))
    a, b = prefixes
    blend = ["0.7", a, "0.3", b]
    train, valid, _ = build(blend, sc2_tokenizer, tmp_path / "cache", split="80,15,5", samples=(300, 30, 5))
    assert len(train) == 300 and len(valid) == 30
    shares = np.bincount([train[i]["dataset_id"] for i in range(len(train))], minlength=2) / len(train)
    assert np.allclose(shares, [0.7, 0.3], atol=0.01)


def test_zero_weight_split_is_none(stdlib_indexed_dataset, sc2_tokenizer, tmp_path):
    train, valid, test = build([stdlib_indexed_dataset], sc2_tokenizer, tmp_path, split="1,0,0")
    assert len(train) >= SAMPLES[0] and valid is None and test is None


def test_split_without_documents_is_an_error(stdlib_indexed_dataset, sc2_tokenizer, tmp_path):
    with pytest.raises(ValueError, match=f"valid split none of the 45 documents of {stdlib_indexed_dataset}"):
        build([stdlib_indexed_dataset], sc2_tokenizer, tmp_path, split="99,1,0")


def test_missing_files_name_the_prefix(stdlib_indexed_dataset, sc2_tokenizer, tmp_path):
    missing = str(tmp_path / "nothing_content_document")
    with pytest.raises(DatasetError, match=f"{missing}.bin and {missing}.idx"):
        build(["0.5", stdlib_indexed_dataset, "0.5", missing], sc2_tokenizer, tmp_path)
    without_suffix = stdlib_indexed_dataset.removesuffix("_content_document")
    with pytest.raises(DatasetError, match="did you mean .*stdlib_content_document"):
        build([without_suffix], sc2_tokenizer, tmp_path)


def copy_dataset(prefix: str, into: Path) -> str:
    for ext in (".bin", ".idx"):
        shutil.copy(f"{prefix}{ext}", into / f"data{ext}")
    return str(into / "data")


def test_a_bin_cut_short_is_refused_before_training(stdlib_indexed_dataset, sc2_tokenizer, tmp_path):
    prefix = copy_dataset(stdlib_indexed_dataset, tmp_path)
    size = os.path.getsize(f"{prefix}.bin")
    os.truncate(f"{prefix}.bin", size - 3000)  # the last document loses its end
    with pytest.raises(DatasetError, match=f"prefix {prefix}: {prefix}.bin has {size - 3000} bytes but "
                                           f"{prefix}.idx indexes {size} \\(truncated.*re-run tools/preprocess_data"):
        build([prefix], sc2_tokenizer, tmp_path / "cache")


def test_a_bin_and_idx_from_different_runs_are_refused(stdlib_indexed_dataset, stdlib_documents, sc2_tokenizer,
                                                       tmp_path):
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    prefix = copy_dataset(stdlib_indexed_dataset, tmp_path)
    other = IndexedDatasetBuilder(f"{prefix}.bin", dtype=np.uint16)  # a smaller run's .bin over ours
    for ids in sc2_tokenizer.encode_batch(stdlib_documents[:30]):
        other.add_document(np.array([*ids, sc2_tokenizer.eod], dtype=np.uint16), [len(ids) + 1])
    other.finalize(str(tmp_path / "other.idx"))
    with pytest.raises(DatasetError, match=f"{prefix}.bin has .* bytes but {prefix}.idx indexes .*different runs"):
        build(["0.5", stdlib_indexed_dataset, "0.5", prefix], sc2_tokenizer, tmp_path / "cache")


def test_a_truncated_or_foreign_idx_is_refused(stdlib_indexed_dataset, sc2_tokenizer, tmp_path):
    prefix = copy_dataset(stdlib_indexed_dataset, tmp_path)
    size = os.path.getsize(f"{prefix}.idx")
    os.truncate(f"{prefix}.idx", size - 8)
    with pytest.raises(DatasetError, match=f"{prefix}.idx has {size - 8} bytes, its header describes {size}"):
        build([prefix], sc2_tokenizer, tmp_path / "cache")
    Path(f"{prefix}.idx").write_bytes(b"not an index")
    with pytest.raises(DatasetError, match=f"{prefix}.idx is not a Megatron index"):
        build([prefix], sc2_tokenizer, tmp_path / "cache")


def test_data_from_another_tokenizer_of_the_same_size_is_refused(stdlib_indexed_dataset, sc2_tokenizer,
                                                                  sc2_tokenizer_dir, tmp_path):
    from other_tokenizer import other_tokenizer

    from megatron_sc2.data.tokenizer import load_tokenizer
    from megatron_sc2.data.tokenizer_record import record_path, tokenizer_record

    other = load_tokenizer("HuggingFaceTokenizer", other_tokenizer(sc2_tokenizer_dir, tmp_path / "other"))
    prefix = copy_dataset(stdlib_indexed_dataset, tmp_path)
    record_path(prefix).write_text(json.dumps(tokenizer_record(other)))
    line = (f"^--data-path prefix {prefix} was made by tokenizer {other.identity[:12]}, 2,048 tokens; "
            f"--tokenizer-model {sc2_tokenizer.path} is tokenizer {sc2_tokenizer.identity[:12]}, 2,048 tokens: "
            "train with the tokenizer that made it")
    with pytest.raises(DatasetError, match=line):
        build([prefix], sc2_tokenizer, tmp_path / "cache")
    record_path(prefix).write_text('{"sha256": ')  # cut short
    with pytest.raises(DatasetError, match=f"{prefix}.tokenizer-id.json is not a tokenizer record"):
        build([prefix], sc2_tokenizer, tmp_path / "cache")


def test_data_past_the_vocabulary_is_refused(stdlib_documents, sc2_tokenizer, tmp_path):
    """Without a record (Megatron-LM's tools write none), ids a larger vocabulary made are found."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    builder = IndexedDatasetBuilder(str(tmp_path / "wide.bin"), dtype=np.uint16)
    for ids in sc2_tokenizer.encode_batch(stdlib_documents):
        builder.add_document(np.array([*ids, 3000, sc2_tokenizer.eod]), [len(ids) + 2])
    builder.finalize(str(tmp_path / "wide.idx"))
    prefix = str(tmp_path / "wide")
    line = f"^--data-path prefix {prefix} holds token id 3,000, past the 2,048 tokens of --tokenizer-model "
    with pytest.raises(DatasetError, match=line + str(sc2_tokenizer.path)):
        build([prefix], sc2_tokenizer, tmp_path / "cache")


def test_data_without_a_record_trains_with_one_notice(stdlib_indexed_dataset, sc2_tokenizer, tmp_path,
                                                      caplog):
    prefix = copy_dataset(stdlib_indexed_dataset, tmp_path)
    with caplog.at_level(logging.INFO, logger="megatron_sc2"):
        for stage in range(2):  # each stage builds its datasets
            train, _, _ = build([prefix], sc2_tokenizer, tmp_path / f"cache{stage}")
            assert len(train) >= SAMPLES[0]
    notices = [r.getMessage() for r in caplog.records if "tokenizer-id.json" in r.getMessage()]
    assert notices == [(f"--data-path prefix {prefix} has no data.tokenizer-id.json (not written by tools/"
                        f"preprocess_data.py): its token ids fit --tokenizer-model {sc2_tokenizer.path}, which "
                        "is assumed to have made it")]


def test_fim_samples_keep_labels_the_shifted_tokens(stdlib_indexed_dataset, sc2_tokenizer, tmp_path):
    fim = FIMConfig(rate=1.0, spm_rate=0.5, fragment_rate=1.0)
    train, _, _ = build([stdlib_indexed_dataset], sc2_tokenizer, tmp_path, fim=fim)
    fim_prefix = sc2_tokenizer.token_id(FIM_PREFIX)
    for i in range(50):
        item = train[i]
        assert item["tokens"].shape == (SEQ,)
        assert torch.equal(item["tokens"][1:], item["labels"][:-1])
        assert torch.all(item["loss_mask"] == 1.0)
        assert fim_prefix in window(item)


def test_rebuilt_dataset_gives_identical_samples(stdlib_indexed_dataset, sc2_tokenizer, tmp_path):
    fim = FIMConfig()
    first = windows(build([stdlib_indexed_dataset], sc2_tokenizer, tmp_path, fim=fim)[0])
    cached = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.npy")}
    assert cached
    assert np.array_equal(
        first, windows(build([stdlib_indexed_dataset], sc2_tokenizer, tmp_path, fim=fim)[0])
    )
    assert cached == {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.npy")}  # a cache hit
    other_seed = build_datasets(
        [stdlib_indexed_dataset], "90,8,2", SEQ, 99, sc2_tokenizer, SAMPLES, str(tmp_path), fim
    )
    assert not np.array_equal(windows(other_seed[0]), first)


def test_dataloader_workers_see_the_same_samples(stdlib_indexed_dataset, sc2_tokenizer, tmp_path):
    train = build([stdlib_indexed_dataset], sc2_tokenizer, tmp_path, fim=FIMConfig())[0]
    indices = list(range(0, SAMPLES[0], 7))
    loader = torch.utils.data.DataLoader(torch.utils.data.Subset(train, indices), batch_size=4, num_workers=2)
    tokens = torch.cat([batch["tokens"] for batch in loader])
    assert torch.equal(tokens, torch.stack([train[i]["tokens"] for i in indices]))


WORKER = """
import sys
import numpy as np
import torch.distributed as dist
from megatron_sc2.data.datasets import build_datasets
from megatron_sc2.data.fim import FIMConfig
from megatron_sc2.data.tokenizer import load_tokenizer

tokenizer_dir, prefix, cache, out, seq, samples = sys.argv[1:]
dist.init_process_group("gloo")
tokenizer = load_tokenizer("HuggingFaceTokenizer", tokenizer_dir)
train = build_datasets([prefix], "90,8,2", int(seq), 1234, tokenizer, eval(samples), cache, FIMConfig())[0]
windows = [np.concatenate([train[i]["tokens"], train[i]["labels"][-1:]]) for i in range(0, 200, 7)]
np.save(f"{out}/rank{dist.get_rank()}.npy", np.stack(windows))
dist.destroy_process_group()
"""


def test_two_ranks_build_identical_fim_samples(
    stdlib_indexed_dataset, sc2_tokenizer, sc2_tokenizer_dir, tmp_path
):
    """Rank 0 builds the index cache while rank 1 waits, then both read the same FIM samples."""
    expected = windows(build([stdlib_indexed_dataset], sc2_tokenizer, tmp_path / "local", fim=FIMConfig())[0])
    port = free_port()
    args = [str(sc2_tokenizer_dir), stdlib_indexed_dataset, str(tmp_path / "shared"), str(tmp_path), str(SEQ)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)}
    env |= {"WORLD_SIZE": "2", "OMP_NUM_THREADS": "1"}
    ranks = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, *args, repr(SAMPLES)],
            env={**env, "RANK": str(rank)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in range(2)
    ]
    for process in ranks:
        _, err = process.communicate(timeout=300)
        assert process.returncode == 0, err[-3000:]
    for rank in range(2):
        assert np.array_equal(np.load(tmp_path / f"rank{rank}.npy"), expected)
