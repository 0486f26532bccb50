import pytest
from packaging.version import Version

from megatron_sc2 import mcore_compat


def test_a_source_install_is_compared_by_its_release():
    assert mcore_compat.release("0.19.2+5fe0b1c3") == Version("0.19.2")
    assert mcore_compat.release("0.18.0rc1") == Version("0.18.0")


@pytest.mark.parametrize("version", ["0.16.1", "0.17.0", "0.18.2+1a2b3c4", "0.19.0rc2", "0.19.2", "0.19.11"])
def test_every_release_from_0_16_1_to_0_19_is_supported(version):
    mcore_compat.check_supported(version)


@pytest.mark.parametrize("version", ["0.15.3", "0.16.0", "0.20.0", "1.0.0"])
def test_other_releases_fail_with_the_supported_range(version):
    with pytest.raises(RuntimeError, match=rf"megatron-core {version} is installed; .* supports 0.16.1 to 0.19.x"):
        mcore_compat.check_supported(version)


def test_the_installed_release_is_supported():
    mcore_compat.check_supported()


def test_a_checkpoint_without_common_pt_needs_0_19_or_is_incomplete(tmp_path):
    from torch.distributed.checkpoint.metadata import MetadataIndex

    from megatron_sc2.checkpoint import CheckpointError
    from megatron_sc2.checkpoint.verify import check_sharded_common_state

    with pytest.raises(CheckpointError, match="incomplete: common.pt is missing"):
        check_sharded_common_state(tmp_path, {MetadataIndex("model.embedding.weight"): None})
    written_by_0_19 = {MetadataIndex("common_state/shard_0_1"): None}
    if mcore_compat.reads_sharded_common_state():
        check_sharded_common_state(tmp_path, written_by_0_19)
    else:
        with pytest.raises(CheckpointError, match=rf"{tmp_path} was written by megatron-core 0.19 or newer, which "
                                                  rf"megatron-core {mcore_compat.release()} cannot read"):
            check_sharded_common_state(tmp_path, written_by_0_19)


def test_without_cuda_megatron_core_imports_without_compiling_its_fusions():
    """megatron_sc2/jit_fusions.py: the installed release still decorates its fusions through
    `megatron.core.jit.jit_fuser`, and megatron_sc2 replaces it before any fusion is decorated."""
    import subprocess
    import sys

    probe = ("import megatron_sc2, megatron.core.transformer, megatron.core.jit as jit, "
             "megatron.core.fusions.fused_bias_gelu as gelu; "
             "print(jit.jit_fuser is jit.noop_decorator, type(gelu.bias_gelu).__name__)")
    shown = subprocess.run([sys.executable, "-W", "ignore", "-c", probe], capture_output=True, text=True,
                           check=True).stdout.split()
    assert shown == ["True", "function"]  # not torch.compile's wrapper


@pytest.mark.parametrize("name", mcore_compat.PRIVATE_NAMES, ids=str)
def test_every_private_name_megatron_sc2_relies_on_is_in_the_installed_release(name):
    if not name.relied_on():
        pytest.skip(f"{name} is relied on in megatron-core {name.since} to before {name.until} only")
    assert name.exists(), (f"megatron-core {mcore_compat.release()} has no {name}, which megatron_sc2 uses to "
                           f"{name.use}: find where the release moved it and update megatron_sc2/mcore_compat.py")


def test_a_missing_private_name_fails_naming_it_and_the_supported_range():
    moved = mcore_compat.PrivateName("megatron.core.tensor_parallel.random", "_moved_away", "a test")
    assert not moved.exists()
    with pytest.raises(RuntimeError, match=r"has no megatron.core.tensor_parallel.random._moved_away \(a test\): "
                                           r"megatron_sc2 supports 0.16.1 to 0.19.x"):
        moved.get()
