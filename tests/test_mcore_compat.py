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
