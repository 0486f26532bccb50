"""A checkpoint folder cannot run code at `--load`, and a failed save leaves nothing that looks
like a checkpoint."""

import os
import pickle
import shutil

import pytest
import torch
from pretrain_runs import SCHEDULE, base_args, pretrain

from megatron_sc2.checkpoint import iteration_dir, latest_iteration, partial_dir, resolve

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

    def write_then_fail(*args, **kwargs):  # the tensors are on disk, then the disk fills up
        write(*args, **kwargs)
        raise OSError("No space left on device")

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
