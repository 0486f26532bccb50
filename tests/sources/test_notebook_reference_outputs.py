"""The stored notebook_reference_outputs.json, which the renderer tests compare against, is what the reference code
(bigcode-project/the-stack-v2 commit 9172041, bigcode-project/bigcode-dataset commit bebec92) gives today on the
planted records; `python tests/sources/notebook_reference.py` rewrites it."""

import json

import pytest
from sources import notebook_reference as reference


@pytest.mark.skipif(not reference.available(), reason="the reference checkouts (SC2_REFERENCE_MIRRORS) or BeautifulSoup are absent, as in CI: "
                    "the stored notebook_reference_outputs.json stands in for them")
def test_stored_outputs_are_the_reference_run_now():
    assert reference.reference_outputs() == json.loads(reference.OUTPUTS.read_text())
