import pathlib
import sys
import sysconfig

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # near_duplicates


@pytest.fixture(scope="session")
def stdlib_sources() -> list[str]:
    """Real code every machine has: the standard library's own modules (sorted, so runs are reproducible)."""
    root = pathlib.Path(sysconfig.get_paths()["stdlib"])
    texts = [p.read_text(errors="ignore") for p in sorted(root.glob("*.py"))]
    return [t for t in texts if 2_000 < len(t) < 200_000]
