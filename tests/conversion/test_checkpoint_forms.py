"""Export reads the other forms a megatron-core checkpoint can take: layers stacked in one tensor per
name (megatron-core's homogeneous-layer format) and the local spec's LayerNorm names."""

import re
import shutil

import pytest
import torch
from conversion.tiny import Tiny, make_hf
from safetensors.torch import load_file

from megatron_sc2.checkpoint import SC2_METADATA, iteration_dir, write_marker
from megatron_sc2.conversion import export_to_hf, import_from_hf
from megatron_sc2.conversion.megatron_io import CheckpointReader, TensorToWrite, write_dist_checkpoint

LOCAL_NAMES = {
    "self_attention.linear_qkv.layer_norm_weight": "input_layernorm.weight",
    "self_attention.linear_qkv.layer_norm_bias": "input_layernorm.bias",
    "mlp.linear_fc1.layer_norm_weight": "pre_mlp_layernorm.weight",
    "mlp.linear_fc1.layer_norm_bias": "pre_mlp_layernorm.bias",
}


def rewrite(source, target, form: str):
    """The same tensors under `form`'s keys, as a new checkpoint."""
    reader = CheckpointReader(source)
    keys = [k for k, md in reader.metadata.state_dict_metadata.items() if hasattr(md, "chunks")]
    tensors = {}
    for key in keys:
        match = re.fullmatch(r"decoder\.layers\.(\d+)\.(.+)", key)
        if form == "stacked" and match:
            stacked = f"decoder.layers.{match.group(2)}"
            tensors.setdefault(stacked, []).append(key)
        elif form == "local" and match and match.group(2) in LOCAL_NAMES:
            tensors[f"decoder.layers.{match.group(1)}.{LOCAL_NAMES[match.group(2)]}"] = [key]
        else:
            tensors[key] = [key]

    def producer(parts):
        return lambda: torch.stack([reader.read(p) for p in parts]) if len(parts) > 1 else reader.read(parts[0])

    to_write = []
    for key, parts in tensors.items():
        shape = reader.shape(parts[0])
        shape = (len(parts), *shape) if form == "stacked" and len(parts) > 1 else shape
        to_write.append(TensorToWrite(key, shape, reader.dtype(parts[0]), producer(parts)))
    folder = iteration_dir(target, 0)
    write_dist_checkpoint(folder, to_write, {})
    shutil.copy(reader.folder / SC2_METADATA, folder)
    write_marker(target, 0)
    return [t.key for t in to_write]


@pytest.mark.parametrize("form", ["stacked", "local"])
def test_export_reads_other_checkpoint_forms(tmp_path, form):
    make_hf(tmp_path / "hf", Tiny(2, False, None))
    import_from_hf(tmp_path / "hf", tmp_path / "ckpt", progress=False)
    keys = rewrite(tmp_path / "ckpt", tmp_path / form, form)
    assert ("decoder.layers.mlp.linear_fc1.weight" in keys) == (form == "stacked")
    assert ("decoder.layers.0.input_layernorm.weight" in keys) == (form == "local")

    export_to_hf(tmp_path / form, tmp_path / "out", progress=False)
    before, after = load_file(tmp_path / "hf" / "model.safetensors"), load_file(tmp_path / "out" / "model.safetensors")
    assert sorted(before) == sorted(after)
    assert all(torch.equal(before[name], after[name]) for name in before)
