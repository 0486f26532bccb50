"""Kaggle notebooks: the reference's script on the planted notebooks (bigcode-project/the-stack-v2 commit 9172041,
`kaggle/`, stored in notebook_reference_outputs.json), the dataset blocks in the paper's layout and shares."""

import json
import random

import pytest
from sources import notebook_reference as reference
from sources.notebook_planted import KAGGLE, KAGGLE_CELLS, filter_verdicts
from sources.notebook_planted import KAGGLE_DATASET as DATASET

from megatron_sc2.sources import kaggle

EXPECTED = json.loads(reference.OUTPUTS.read_text())["kaggle"]
PINNED_PLAIN = kaggle.Options(description=0.0, schema=0.0)
PINNED_FULL = kaggle.Options(description=1.0, schema=1.0)


@pytest.mark.parametrize("name", KAGGLE)
def test_script_equals_the_reference(name):
    record = {"content": KAGGLE[name], **DATASET}
    if EXPECTED[name] is None:
        assert kaggle.removal_reason(record, PINNED_PLAIN) is not None
    else:
        assert kaggle.removal_reason(record, PINNED_PLAIN) is None
        assert kaggle.render(record, random.Random(0), PINNED_PLAIN) == EXPECTED[name]


def test_a_whole_notebook_reads_as_its_cells():
    whole = json.dumps({"cells": KAGGLE_CELLS["template"], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    assert kaggle.render({"content": whole}, random.Random(0), PINNED_PLAIN) == EXPECTED["template"]


def test_dataset_blocks_in_the_papers_layout():
    record = {"content": KAGGLE["merged_code"], **DATASET}
    script = EXPECTED["merged_code"]
    head = ("<jupyter_start><jupyter_text>Titanic passengers\nWho survived the Titanic.\n"
            "Kaggle dataset identifier: heptapod/titanic")
    schema = (
        '<jupyter_code>import pandas as pd\n\ndf = pd.read_csv("../input/titanic/train.csv")\ndf.info()'
        "<jupyter_output><class 'pandas.core.frame.DataFrame'>\nRangeIndex: 891 entries"
        '<jupyter_text>Examples:\n{"PassengerId":1,"Survived":0}\n{"PassengerId":2,"Survived":1}'
        '<jupyter_code>import pandas as pd\n\ndf = pd.read_csv("../input/titanic/test.csv")\ndf.info()'
        '<jupyter_output>RangeIndex: 418 entries<jupyter_text>Examples:\n{"PassengerId":892}'
    )
    assert kaggle.render(record, random.Random(0), PINNED_FULL) == head + schema + script
    assert kaggle.render(record, random.Random(0), kaggle.Options(1.0, 0.0)) == head + script
    # without a named dataset, or without data files, there is nothing to prepend
    no_dataset = {"content": KAGGLE["merged_code"], "kaggle_dataset_owner": None}
    assert kaggle.render(no_dataset, random.Random(0), PINNED_FULL) == script
    assert kaggle.render({**record, "data_files": []}, random.Random(0), PINNED_FULL) == head + script


def test_shares_over_10000_notebooks():
    options, rng = kaggle.Options(), random.Random(2024)
    record = {"content": KAGGLE["merged_code"], **DATASET}
    texts = [kaggle.render(record, rng, options) for _ in range(10_000)]
    described = sum(text.startswith("<jupyter_start>") for text in texts) / len(texts)
    with_schema = sum("df.info()" in text for text in texts) / len(texts)
    assert abs(described - 0.42) <= 0.02 and abs(with_schema - 0.086) <= 0.02, (described, with_schema)


def test_render_is_reproducible_given_the_rng():
    record = {"content": KAGGLE["merged_code"], **DATASET}
    first = [kaggle.render(record, random.Random(seed), kaggle.Options()) for seed in range(20)]
    assert first == [kaggle.render(record, random.Random(seed), kaggle.Options()) for seed in range(20)]
    assert len(set(first)) == 3  # plain, described, described with the schema


def test_options_refuse_a_schema_share_above_the_description_share():
    with pytest.raises(ValueError, match="schema"):
        kaggle.Options(description=0.1, schema=0.2)


def test_filter_names_its_reasons():
    too_large = json.dumps(KAGGLE_CELLS["merged_code"] + [{"cell_type": "raw", "source": "x" * 5_000_001}])
    records = {name: {"content": content} for name, content in KAGGLE.items()}
    records["too_large"], records["not_json"] = {"content": too_large}, {"content": "[{"}
    verdicts, counters = filter_verdicts("kaggle", records)
    assert verdicts == {"template": "kept", "merged_code": "kept", "short": "short", "few_cells": "short",
                        "syntax_error": "syntax_error", "too_large": "too_large", "not_json": "unreadable_notebook"}
    assert counters["dropped_short"] == 2 and counters["dropped"] == 5
