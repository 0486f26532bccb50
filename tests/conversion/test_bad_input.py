"""Bad input fails with an error naming the file or tensor, leaves no complete-looking output, and
never runs code from the folder being converted."""

import json
import os
import pickle
import re
import shutil
import socket

import pytest
from conversion.tiny import Tiny, make_hf
from small_filesystems import tmpfs

from megatron_sc2.checkpoint import iteration_dir, verify_checkpoint
from megatron_sc2.conversion import ConversionError, export_to_hf, hf_io, import_from_hf, megatron_io
from megatron_sc2.conversion.cli import main


@pytest.fixture(scope="module")
def hf_folder(tmp_path_factory):
    return make_hf(tmp_path_factory.mktemp("hf") / "model", Tiny(2, False, None))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory, hf_folder):
    root = tmp_path_factory.mktemp("ckpt") / "ckpt"
    import_from_hf(hf_folder, root, tensor_parallel=2, progress=False)
    return root


def copy(folder, tmp_path):
    return shutil.copytree(folder, tmp_path / folder.name)


def leftovers(parent):
    return sorted(p.name for p in parent.iterdir() if ".partial" in p.name)


def test_non_starcoder2_config_is_refused(tmp_path, hf_folder):
    folder = copy(hf_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "llama"}))
    with pytest.raises(ConversionError, match=r"config.json: model_type is 'llama'"):
        import_from_hf(folder, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_unsupported_architecture_values_are_refused(tmp_path, hf_folder):
    folder = copy(hf_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "hidden_act": "relu"}))
    with pytest.raises(ConversionError, match="hidden_act is 'relu'"):
        import_from_hf(folder, tmp_path / "out", progress=False)


def test_missing_shard_is_named(tmp_path, checkpoint):
    export_to_hf(checkpoint, tmp_path / "sharded", max_shard_bytes=100_000, progress=False)
    second = sorted((tmp_path / "sharded").glob("model-*.safetensors"))[1]
    second.unlink()
    with pytest.raises(ConversionError, match=rf"{second.name} \(holding .*\) is missing"):
        import_from_hf(tmp_path / "sharded", tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() or sorted(p.name for p in (tmp_path / "out").iterdir()) == []


def test_hf_shape_mismatch_names_the_tensor(tmp_path, hf_folder):
    folder = copy(hf_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "intermediate_size": 256}))
    with pytest.raises(ConversionError, match=r"tensor model.layers.0.mlp.c_fc.weight has shape \(128, 64\)"):
        import_from_hf(folder, tmp_path / "out", progress=False)


def test_pickle_weights_are_refused(tmp_path):
    folder = tmp_path / "pickled"
    folder.mkdir()
    make_hf(tmp_path / "src", Tiny(2, True, None))
    shutil.copy(tmp_path / "src" / "config.json", folder)
    (folder / "pytorch_model.bin").write_bytes(b"not loaded")
    with pytest.raises(ConversionError, match=r"pickle weights \(pytorch_model.bin\) are refused"):
        import_from_hf(folder, tmp_path / "out", progress=False)


def test_checkpoint_of_another_model_is_refused(tmp_path, checkpoint):
    root = copy(checkpoint, tmp_path)
    info_path = root / "iter_0000000" / "sc2_checkpoint.json"
    info = json.loads(info_path.read_text())
    info["model"]["ffn_hidden_size"] = 256
    info_path.write_text(json.dumps(info))
    with pytest.raises(ConversionError, match=r"tensor decoder.layers.0.mlp.linear_fc1.weight has shape \(128, 64\)"):
        export_to_hf(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_checkpoint_without_our_config_is_refused(tmp_path, checkpoint):
    root = copy(checkpoint, tmp_path)
    (root / "iter_0000000" / "sc2_checkpoint.json").unlink()
    with pytest.raises(ConversionError, match="iter_0000000 has no sc2_checkpoint.json"):
        export_to_hf(root, tmp_path / "out", progress=False)


def test_unknown_iteration_lists_what_exists(tmp_path, checkpoint):
    with pytest.raises(ConversionError, match=r"iter_0000500 does not exist; found: \['iter_0000000'\]"):
        export_to_hf(checkpoint, tmp_path / "out", iteration=500, progress=False)


def test_missing_checkpoint_file_fails_without_partial_output(tmp_path, checkpoint):
    root = copy(checkpoint, tmp_path)
    biggest = max((root / "iter_0000000").glob("*.distcp"), key=lambda p: p.stat().st_size)
    biggest.unlink()
    with pytest.raises(ConversionError, match=f"file {biggest.name} holding .* is missing"):
        export_to_hf(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch PWNED",))


def test_malicious_checkpoint_metadata_is_not_executed(tmp_path, checkpoint, monkeypatch):
    root = copy(checkpoint, tmp_path)
    (root / "iter_0000000" / ".metadata").write_bytes(pickle.dumps(_RunsCode()))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConversionError, match=r"\.metadata: refusing to load posix.system"):
        export_to_hf(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "PWNED").exists()


def test_existing_outputs_are_not_overwritten(tmp_path, checkpoint, hf_folder):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("mine")
    with pytest.raises(ConversionError, match="already exists and is not empty"):
        export_to_hf(checkpoint, tmp_path / "out", progress=False)
    with pytest.raises(ConversionError, match="already holds a checkpoint"):
        import_from_hf(hf_folder, checkpoint, progress=False)
    assert (tmp_path / "out" / "keep.txt").read_text() == "mine"


def test_a_second_import_into_one_save_folder_is_refused(tmp_path, hf_folder, monkeypatch, capsys):
    """Started while the first import writes, a second one stops in one line naming it and writes nothing;
    the first completes alone."""
    save, write, seen = tmp_path / "out", megatron_io.write_dist_checkpoint, []

    def write_while_a_second_import_starts(*args, **kwargs):
        if not seen:
            seen.append(None)  # once: the second run writes through this too, if it gets that far
            code = main(["import", "--hf", str(hf_folder), "--save", str(save), "--no-progress"])
            seen[0] = (code, capsys.readouterr().err, sorted(p.name for p in save.iterdir()))
        return write(*args, **kwargs)

    monkeypatch.setattr(megatron_io, "write_dist_checkpoint", write_while_a_second_import_starts)
    import_from_hf(hf_folder, save, progress=False)
    [(code, err, listing)] = seen
    assert code == 2 and len(err.splitlines()) == 1, err
    assert err.startswith(f"convert_checkpoint import: error: --save {save} is in use by another training job or "
                          f"import (host {socket.gethostname()}, pid {os.getpid()}, since "), err
    assert listing == [".iter_0000000.partial", ".save.lock"]  # the first one's staging and lock only
    assert sorted(p.name for p in save.iterdir()) == ["iter_0000000", "latest_checkpointed_iteration.txt"]
    verify_checkpoint(iteration_dir(save, 0))


def test_a_second_export_into_one_output_is_refused(tmp_path, checkpoint, monkeypatch, capsys):
    output, write, seen = tmp_path / "hf", hf_io.write_safetensors, []

    def write_while_a_second_export_starts(*args, **kwargs):
        if not seen:
            seen.append(None)  # once: the second run writes through this too, if it gets that far
            code = main(["export", "--load", str(checkpoint), "--output", str(output), "--no-progress"])
            seen[0] = (code, capsys.readouterr().err, sorted(p.name for p in tmp_path.iterdir()))
        return write(*args, **kwargs)

    monkeypatch.setattr(hf_io, "write_safetensors", write_while_a_second_export_starts)
    export_to_hf(checkpoint, output, progress=False)
    [(code, err, listing)] = seen
    assert code == 2 and len(err.splitlines()) == 1, err
    assert f"error: --output {output} is being written by another export (host " in err, err
    assert listing == [".hf.lock", f".hf.partial-{os.getpid()}"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf"]


def test_tensor_parallel_size_must_divide_kv_groups(tmp_path, hf_folder):
    with pytest.raises(ConversionError, match="must divide the 2 KV groups"):
        import_from_hf(hf_folder, tmp_path / "out", tensor_parallel=4, progress=False)


def test_cli_reports_errors_on_stderr_with_exit_code_2(tmp_path, capsys):
    code = main(["export", "--load", str(tmp_path / "nowhere"), "--output", str(tmp_path / "out"), "--no-progress"])
    assert code == 2
    assert f"checkpoint folder {tmp_path / 'nowhere'} does not exist" in capsys.readouterr().err


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_unreadable_safetensors_is_named(tmp_path, hf_folder, damage):
    folder = copy(hf_folder, tmp_path)
    weights = folder / "model.safetensors"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\x00not safetensors" * 64)
    with pytest.raises(ConversionError, match=rf"{weights}: not a readable safetensors file \(.*\); copy or"):
        import_from_hf(folder, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists()


def test_unreadable_shard_of_an_index_is_named(tmp_path, checkpoint):
    export_to_hf(checkpoint, tmp_path / "sharded", max_shard_bytes=100_000, progress=False)
    second = sorted((tmp_path / "sharded").glob("model-*.safetensors"))[1]
    second.write_bytes(second.read_bytes()[:1000])
    with pytest.raises(ConversionError, match=rf"{second}: not a readable safetensors file"):
        import_from_hf(tmp_path / "sharded", tmp_path / "out", progress=False)


@pytest.mark.parametrize("damage", ["truncated", "garbage"])
def test_unreadable_checkpoint_file_is_named(tmp_path, checkpoint, damage):
    root = copy(checkpoint, tmp_path)
    biggest = max((root / "iter_0000000").glob("*.distcp"), key=lambda p: p.stat().st_size)
    data = biggest.read_bytes()
    biggest.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"garbage" * 64)
    with pytest.raises(ConversionError, match=rf"{biggest.name} holding \S+ cannot be read \(.*\); the checkpoint"):
        export_to_hf(root, tmp_path / "out", progress=False)
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def nonfinite_hf(tmp_path, hf_folder):
    from safetensors.torch import load_file, save_file

    folder = copy(hf_folder, tmp_path)
    weights = load_file(folder / "model.safetensors")
    weights["model.layers.1.mlp.c_fc.weight"][3, :2] = float("nan")
    weights["model.norm.bias"][0] = float("-inf")
    weights["model.layers.0.mlp.c_proj.weight"][1, 1] = float("inf")  # a maximum alone shows +Inf
    save_file(weights, folder / "model.safetensors", metadata={"format": "pt"})
    return folder


def test_nonfinite_weights_are_refused_unless_allowed(tmp_path, hf_folder, capsys):
    folder = nonfinite_hf(tmp_path, hf_folder)
    with pytest.raises(ConversionError, match=r"3 tensor\(s\) hold NaN/Inf values: .*c_proj.weight \(1\), .*"
                                              r"c_fc.weight \(2\), model.norm.bias \(1\); nothing was written "
                                              r"\(pass --allow-nonfinite"):
        import_from_hf(folder, tmp_path / "out", progress=False)
    assert list((tmp_path / "out").iterdir()) == []  # the staged iteration is gone, no marker written

    argv = ["import", "--hf", str(folder), "--save", str(tmp_path / "out"), "--no-progress", "--allow-nonfinite"]
    assert main(argv) == 0
    out, err = capsys.readouterr()
    assert "model.layers.1.mlp.c_fc.weight (2), model.norm.bias (1)" in out + err
    assert "model.layers.0.mlp.c_proj.weight (1)" in out + err
    exported = export_to_hf(tmp_path / "out", tmp_path / "back", progress=False, allow_nonfinite=True)
    assert any("model.norm.bias (1)" in note for note in exported.notes)
    with pytest.raises(ConversionError, match="3 tensor\\(s\\) hold NaN/Inf"):
        export_to_hf(tmp_path / "out", tmp_path / "back2", progress=False)


@pytest.mark.parametrize(("key", "value", "expected"), [
    ("hidden_size", "64", "int"), ("num_hidden_layers", 4.5, "int"), ("tie_word_embeddings", "no", "bool"),
    ("sliding_window", "x", "int or null"), ("norm_epsilon", True, "float"),
])  # fmt: skip
def test_wrong_typed_config_field_is_named(tmp_path, hf_folder, capsys, key, value, expected):
    folder = copy(hf_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, key: value}))
    assert main(["import", "--hf", str(folder), "--save", str(tmp_path / "out"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err == f"convert_checkpoint import: error: {folder / 'config.json'}: {key} is {value!r}, expected {expected}\n"


def test_wrong_typed_field_transformers_checks_is_one_line(tmp_path, hf_folder, capsys):
    folder = copy(hf_folder, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "use_cache": "sometimes"}))
    code = main(["import", "--hf", str(folder), "--save", str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "config.json" in err and "use_cache" in err, err


@pytest.mark.parametrize("command", ["export", "import"])
@pytest.mark.parametrize("filesystem", ["full", "read-only"])
def test_an_output_the_file_system_refuses_is_one_line(tmp_path, capsys, hf_folder, checkpoint, command, filesystem):
    """A full disk (torch's writer says 'unexpected pos 704 vs 598') or a read-only one: one line
    naming the output, and nothing that looks converted."""
    with tmpfs(tmp_path / "mnt", read_only=filesystem == "read-only") as mnt:
        output = mnt / "out"
        argv = ["export", "--load", str(checkpoint), "--output", str(output)] if command == "export" else \
            ["import", "--hf", str(hf_folder), "--save", str(output)]
        assert main([*argv, "--no-progress"]) == 2
        err = capsys.readouterr().err
        cause = "No space left on device|the file system refused a write" if filesystem == "full" else \
            "Read-only file system"
        assert re.fullmatch(rf"convert_checkpoint {command}: error: {output}: cannot write: .*({cause}).*; "
                            r"nothing was written\n", err), err
        assert not output.exists() or not [p for p in output.rglob("*") if p.is_file()]
