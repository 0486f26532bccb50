"""A checkpoint folder cannot run code at `--load`, and is loaded with the tokenizer it was trained with;
a failed save (a full disk) leaves nothing that looks like a checkpoint, and says so in one line."""

import errno
import json
import os
import pickle
import shutil

import pytest
import torch
from pretrain_runs import SCHEDULE, base_args, pretrain
from small_filesystems import tmpfs

from megatron_sc2.checkpoint import (
    SC2_METADATA,
    iteration_dir,
    iterations,
    latest_iteration,
    partial_dir,
    resolve,
)
from megatron_sc2.data.tokenizer import load_tokenizer
from megatron_sc2.training.arguments import parse_args

TRAIN = ["--seq-length", "64", "--global-batch-size", "4", "--train-iters", "2", *SCHEDULE, "--lr-warmup-iters", "1"]


class Payload:
    """What a hostile checkpoint plants: unpickling it creates a folder."""

    def __init__(self, target):
        self.target = str(target)

    def __reduce__(self):
        return os.mkdir, (self.target,)


@pytest.fixture(scope="module")
def checkpoint(training_data, tmp_path_factory):
    root = tmp_path_factory.mktemp("safety")
    pretrain(1, base_args(training_data, root, *TRAIN, "--save", root / "ckpt"))
    return root / "ckpt"


def load_fails_cleanly(training_data, ckpt, tmp_path) -> str:
    result = pretrain(1, base_args(training_data, tmp_path, *TRAIN, "--train-iters", "3", "--load", ckpt),
                      check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert not [line for line in output.splitlines() if 'File "' in line and "megatron" in line], output[-3000:]
    return output


def test_a_planted_metadata_pickle_is_refused_not_run(training_data, checkpoint, tmp_path):
    ckpt, pwned = shutil.copytree(checkpoint, tmp_path / "ckpt"), tmp_path / "pwned"
    (iteration_dir(ckpt, 2) / ".metadata").write_bytes(pickle.dumps(Payload(pwned)))
    output = load_fails_cleanly(training_data, ckpt, tmp_path)
    assert not pwned.exists()
    assert ".metadata: refusing to load posix.mkdir (not checkpoint metadata)" in output


def test_a_planted_object_in_the_tensor_files_is_refused_not_run(training_data, checkpoint, tmp_path):
    """The RNG state is a pickled object inside a .distcp file: point it at a payload."""
    from torch.distributed.checkpoint import FileSystemReader
    from torch.distributed.checkpoint.filesystem import _StorageInfo

    ckpt, pwned = shutil.copytree(checkpoint, tmp_path / "ckpt"), tmp_path / "pwned"
    folder = iteration_dir(ckpt, 2)
    metadata = FileSystemReader(folder).read_metadata()
    torch.save(Payload(pwned), folder / "planted.distcp")
    size = (folder / "planted.distcp").stat().st_size
    index = next(i for i in metadata.storage_data if i.fqn.startswith("rng_state"))
    metadata.storage_data[index] = _StorageInfo("planted.distcp", 0, size)
    (folder / ".metadata").write_bytes(pickle.dumps(metadata))
    output = load_fails_cleanly(training_data, ckpt, tmp_path)
    assert not pwned.exists()
    assert f"planted.distcp (object {index.fqn}): refusing to load it" in output and "posix.mkdir" in output


def test_a_save_that_fails_leaves_no_iteration_folder(single_process_group, tmp_path, monkeypatch):
    from megatron.core import dist_checkpointing

    from megatron_sc2.config import ParallelConfig, get_preset
    from megatron_sc2.model import build_model, to_transformer_config
    from megatron_sc2.training import checkpointing

    config, parallel = get_preset("sc2-tiny"), ParallelConfig()
    chunks = build_model(config, to_transformer_config(config, parallel), max_sequence_length=64)
    write = dist_checkpointing.save

    def write_then_fail(*args, **kwargs):  # the tensors are on disk, then the disk fails
        write(*args, **kwargs)
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(dist_checkpointing, "save", write_then_fail)
    with pytest.raises(OSError):
        checkpointing.save(tmp_path, 5, chunks, None, common={}, model_config=config, parallel=parallel,
                           model_only=True)
    assert not list(tmp_path.glob("iter_*")) and latest_iteration(tmp_path) is None
    assert partial_dir(tmp_path, 5).is_dir()

    monkeypatch.setattr(dist_checkpointing, "save", write)
    checkpointing.save(tmp_path, 5, chunks, None, common={}, model_config=config, parallel=parallel,
                       model_only=True)
    assert latest_iteration(tmp_path) == 5 and not partial_dir(tmp_path, 5).exists()
    resolve(tmp_path)


def no_traceback(output: str) -> bool:
    return not [line for line in output.splitlines() if 'File "' in line and "megatron" in line]


def made_by(tokenizer, training_data: dict, root) -> dict:
    """A copy of the training data whose record names `tokenizer` (of the same size: its ids fit)."""
    from megatron_sc2.data.tokenizer_record import record_path, tokenizer_record

    prefix = root / "data"
    for ext in (".bin", ".idx"):
        shutil.copy(f"{training_data['prefix']}{ext}", f"{prefix}{ext}")
    record_path(str(prefix)).write_text(json.dumps(tokenizer_record(tokenizer)))
    return {**training_data, "prefix": prefix, "tokenizer": tokenizer.path}


def test_a_checkpoint_trained_with_another_tokenizer_is_refused_unless_finetuning(training_data, checkpoint,
                                                                                  tmp_path):
    from other_tokenizer import other_tokenizer

    ours = load_tokenizer("HuggingFaceTokenizer", training_data["tokenizer"])
    saved = json.loads((iteration_dir(checkpoint, 2) / SC2_METADATA).read_text())["tokenizer"]
    assert (saved["sha256"], saved["vocab_size"]) == (ours.identity, 1024)
    other = load_tokenizer("HuggingFaceTokenizer", other_tokenizer(training_data["tokenizer"], tmp_path / "other"))
    args = base_args(made_by(other, training_data, tmp_path), tmp_path, *TRAIN, "--train-iters", "3",
                     "--load", checkpoint)
    with pytest.raises(SystemExit) as refused:
        parse_args(args, world_size=1, ranks_here=1)
    assert str(refused.value).splitlines()[1:] == [(
        f"  - --load {checkpoint} was trained with tokenizer {ours.identity[:12]}, 1,024 tokens "
        f"({os.path.abspath(ours.path)}); --tokenizer-model {other.path} is tokenizer {other.identity[:12]}, 1,024 "
        f"tokens: give the tokenizer it was trained with, or add --finetune to start from its weights with this one")]

    finetuned = pretrain(1, args + ["--finetune", "--train-iters", "2"])
    assert f"--finetune: {checkpoint} was trained with tokenizer {ours.identity[:12]}" in finetuned.stdout


def test_a_checkpoint_without_a_tokenizer_record_loads_with_a_notice(training_data, checkpoint, tmp_path, caplog):
    """As checkpoints saved before the record, and imports from Hugging Face, are."""
    ckpt = shutil.copytree(checkpoint, tmp_path / "ckpt")
    meta_path = iteration_dir(ckpt, 2) / SC2_METADATA
    meta_path.write_text(json.dumps({k: v for k, v in json.loads(meta_path.read_text()).items() if k != "tokenizer"}))
    with caplog.at_level("INFO", logger="megatron_sc2.pretrain"):
        parse_args(base_args(training_data, tmp_path, *TRAIN, "--train-iters", "3", "--load", ckpt), world_size=1,
                   ranks_here=1)
    assert f"--load {ckpt} records no tokenizer (saved by an older release, or imported)" in caplog.text


@pytest.fixture
def small_disk(tmp_path):
    """An 8 MiB filesystem: two saves of sc2-tiny at TP 2 fit, the third does not."""
    with tmpfs(tmp_path / "disk", size="8m") as mount:
        yield mount


def test_a_full_disk_stops_the_run_in_one_line_and_keeps_the_earlier_checkpoints(training_data, small_disk,
                                                                                tmp_path):
    ckpt = small_disk / "ckpt"
    result = pretrain(2, base_args(training_data, tmp_path, *TRAIN, "--train-iters", "6", "--save-interval", "1",
                                   "--tensor-model-parallel-size", "2", "--save", ckpt), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0 and no_traceback(output), output[-5000:]
    kept = latest_iteration(ckpt)
    assert kept and iterations(ckpt) == list(range(1, kept + 1)), output[-5000:]
    line = (f"error: saving checkpoint iteration {kept + 1} to --save {ckpt} failed, no space left on its disk (full, "
            f"or over quota): nothing was published; the last complete checkpoint, iteration {kept}, and those "
            f"before it are intact: free space there (or --save elsewhere), then rerun")
    assert output.count(line) == 1, output[-5000:]
    assert not list(ckpt.glob(".*")), "nothing of the failed save is left"
    resolve(ckpt)  # the last complete one verifies
