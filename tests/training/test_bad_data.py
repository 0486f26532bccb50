"""A damaged dataset, or one from another tokenizer, stops `pretrain` at start-up with one line naming
the prefix."""

import json
import os
import shutil

import pytest
from pretrain_runs import SCHEDULE, base_args, pretrain, read_metrics


def test_a_truncated_bin_stops_pretrain_before_training(training_data, tmp_path):
    prefix = tmp_path / "data"
    for ext in (".bin", ".idx"):
        shutil.copy(f"{training_data['prefix']}{ext}", f"{prefix}{ext}")
    os.truncate(f"{prefix}.bin", os.path.getsize(f"{prefix}.bin") - 4096)
    data = {**training_data, "prefix": prefix}
    result = pretrain(1, base_args(data, tmp_path, "--seq-length", "64", "--global-batch-size", "4",
                                   "--train-iters", "3", *SCHEDULE), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"  - --data-path prefix {prefix}: {prefix}.bin has " in output
    assert "re-run tools/preprocess_data.py for this prefix" in output
    assert not [line for line in output.splitlines() if 'File "' in line and "megatron" in line], output[-3000:]
    assert not read_metrics(tmp_path / "metrics.jsonl")  # not one step trained


@pytest.mark.parametrize("case", ["larger vocabulary", "same size"])
def test_data_from_another_tokenizer_stops_pretrain_before_training(training_data, tmp_path, case):
    """A larger vocabulary used to fail at step 1 with an IndexError in the embedding; another tokenizer of the
    same size used to train silently."""
    import numpy as np
    from megatron.core.datasets.indexed_dataset import IndexedDataset, IndexedDatasetBuilder

    prefix = tmp_path / "data"
    if case == "larger vocabulary":  # as Megatron-LM's tools write it: no record
        source = IndexedDataset(str(training_data["prefix"]))
        builder = IndexedDatasetBuilder(f"{prefix}.bin", dtype=np.uint16)
        for i in range(len(source)):
            tokens = source[i].copy()
            tokens[::50] = 1500  # in every sample
            builder.add_document(tokens, [len(tokens)])
        builder.finalize(f"{prefix}.idx")
        expected = f"error: --data-path prefix {prefix} holds token id 1,500, past the 1,024 tokens of"
    else:
        from other_tokenizer import other_tokenizer

        from megatron_sc2.data.tokenizer import load_tokenizer
        from megatron_sc2.data.tokenizer_record import record_path, tokenizer_record

        for ext in (".bin", ".idx"):
            shutil.copy(f"{training_data['prefix']}{ext}", f"{prefix}{ext}")
        other_dir = other_tokenizer(training_data["tokenizer"], tmp_path / "other")
        other = load_tokenizer("HuggingFaceTokenizer", other_dir)
        record_path(str(prefix)).write_text(json.dumps(tokenizer_record(other)))
        expected = f"  - --data-path prefix {prefix} was made by tokenizer {other.identity[:12]}, 1,024 tokens;"
    data = {**training_data, "prefix": prefix}
    result = pretrain(1, base_args(data, tmp_path, "--seq-length", "64", "--global-batch-size", "4",
                                   "--train-iters", "3", *SCHEDULE), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert expected in output, output[-3000:]
    traceback = [line for line in output.splitlines() if 'File "' in line and "megatron" in line]
    assert not traceback, output[-3000:]
    assert not read_metrics(tmp_path / "metrics.jsonl")
