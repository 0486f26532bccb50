"""The marker names an iteration only once its folder is in place: a save cut off between the
rename and the marker (a kill, a full disk) leaves the previous checkpoint as the latest."""

import pytest

from megatron_sc2.checkpoint import iteration_dir, latest_iteration, partial_dir, resolve


def test_a_save_cut_off_at_the_rename_leaves_the_marker_on_the_last_complete_iteration(
        single_process_group, tmp_path, monkeypatch):
    from megatron_sc2 import publish
    from megatron_sc2.config import ParallelConfig, get_preset
    from megatron_sc2.model import build_model, to_transformer_config
    from megatron_sc2.training import checkpointing

    config, parallel = get_preset("sc2-tiny"), ParallelConfig()
    chunks = build_model(config, to_transformer_config(config, parallel), max_sequence_length=64)

    def save(iteration):
        checkpointing.save(tmp_path, iteration, chunks, None, common={}, model_config=config, parallel=parallel,
                           model_only=True)

    save(4)
    rename = publish.rename_into_place

    def cut_off(*args, **kwargs):
        raise OSError("killed before the rename")

    monkeypatch.setattr(publish, "rename_into_place", cut_off)
    with pytest.raises(OSError):
        save(5)
    assert latest_iteration(tmp_path) == 4 and resolve(tmp_path)[0] == iteration_dir(tmp_path, 4)
    assert partial_dir(tmp_path, 5).is_dir() and not iteration_dir(tmp_path, 5).exists()

    monkeypatch.setattr(publish, "rename_into_place", rename)
    save(5)
    assert latest_iteration(tmp_path) == 5
