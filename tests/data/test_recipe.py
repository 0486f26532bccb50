"""tools/blend_data_path.py --recipe: StarCoder2's Table 4 (examples/data/sc2-*.yaml) with datasets sized as the
table gives the unique tokens and the epochs of examples/configs/sc2-*.yaml's base stages, and refuses a mixture
above the recipe's epoch cap in one line.

The datasets are real indexes holding Table 4's token counts (a few sequences of up to 2^31 - 1 tokens each) beside
sparse .bin files of the length those indexes give, so that the manifests pass the tool's check against the .idx."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from tool_module import tool_module

from megatron_sc2.data.index_check import _HEADER, INDEX_MAGIC

REPO_ROOT = Path(__file__).resolve().parents[2]
RECIPES = REPO_ROOT / "examples" / "data"
MAX_LENGTH = 2**31 - 1


def synthetic_dataset(prefix: Path, tokens: int, source: str) -> str:
    """A uint16 dataset of `tokens` tokens (whole .idx, sparse .bin) with its manifest naming `source`."""
    lengths = np.full(tokens // MAX_LENGTH, MAX_LENGTH, dtype=np.int32)
    if tokens % MAX_LENGTH:
        lengths = np.append(lengths, np.int32(tokens % MAX_LENGTH))
    pointers = np.concatenate([[0], np.cumsum(lengths.astype(np.int64) * 2)[:-1]]).astype(np.int64)
    with open(f"{prefix}.idx", "wb") as idx:
        idx.write(INDEX_MAGIC + _HEADER.pack(1, 8, len(lengths), len(lengths) + 1))
        idx.write(lengths.tobytes() + pointers.tobytes() + np.arange(len(lengths) + 1, dtype=np.int64).tobytes())
    with open(f"{prefix}.bin", "wb") as data:
        data.truncate(tokens * 2)
    entry = {"documents": len(lengths), "tokens": tokens}
    manifest = {**entry, "by_source": {source: entry}, "tokenizer": {"sha256": "0" * 64, "vocab_size": 49152}}
    Path(f"{prefix}.manifest.json").write_text(json.dumps(manifest))
    return str(prefix)


def table4_datasets(folder: Path, recipe: dict) -> list[str]:
    folder.mkdir(exist_ok=True)
    return [synthetic_dataset(folder / source, round(billions * 1e9), source)
            for source, billions in recipe["sources"].items()]


def blend(*argv) -> int:
    return tool_module("blend_data_path.py").main([str(a) for a in argv])


def base_stage_tokens(model: str) -> float:
    config = yaml.safe_load((REPO_ROOT / "examples" / "configs" / f"sc2-{model}.yaml").read_text())
    return float(config["stages"][0]["train_tokens"])  # YAML 1.1 reads 3.1e12 as a string


# model -> unique tokens (B) of Table 4's rows, epochs of the config's base stage over them
EXPECTED = {"3b": (612.45, 5.06), "7b": (663.25, 5.28), "15b": (913.23, 4.49)}


@pytest.mark.parametrize("model", EXPECTED)
def test_table4_gives_the_papers_tokens_and_epochs(tmp_path, capsys, model):
    recipe = yaml.safe_load((RECIPES / f"sc2-{model}.yaml").read_text())
    prefixes = table4_datasets(tmp_path / model, recipe)
    assert blend("--recipe", RECIPES / f"sc2-{model}.yaml", "--train-tokens", base_stage_tokens(model), *prefixes) == 0
    out, err = capsys.readouterr()
    unique, epochs = EXPECTED[model]
    assert f"{unique:,.2f}B unique tokens (the recipe's reference: {recipe['unique_tokens_b']:,.2f}B), {epochs:.2f} " \
           "epochs" in err
    # The paper's own epochs (4.98 / 5.31 / 4.49) are the base-stage tokens over the totals Table 4 states.
    assert round(base_stage_tokens(model) / (recipe["unique_tokens_b"] * 1e9), 2) == {
        "3b": 4.98, "7b": 5.31, "15b": 4.49}[model]
    words = out.split()
    weights = dict(zip(words[2::2], map(float, words[1::2])))
    assert words[0] == "--data-path" and sorted(weights) == sorted(prefixes)
    for source, billions in recipe["sources"].items():  # natural proportions
        assert weights[str(tmp_path / model / source)] == pytest.approx(billions / unique, rel=1e-5)


def test_above_the_epoch_cap_is_refused_in_one_line(tmp_path, capsys):
    recipe = yaml.safe_load((RECIPES / "sc2-15b.yaml").read_text())
    prefixes = table4_datasets(tmp_path / "15b", recipe)
    assert blend("--recipe", RECIPES / "sc2-15b.yaml", "--train-tokens", "4.6e12", *prefixes) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.count("\n") == 1
    assert "--train-tokens 4.6e+12 is 5.04 epochs over the 913.23B unique tokens" in err
    assert "above its max_epochs 5: train on at most 4.566e+12 tokens, or add data" in err


def test_a_recipe_source_without_a_dataset_is_named(tmp_path, capsys):
    recipe = yaml.safe_load((RECIPES / "sc2-3b.yaml").read_text())
    prefixes = table4_datasets(tmp_path / "3b", recipe)
    assert blend("--recipe", RECIPES / "sc2-3b.yaml", "--train-tokens", "1e12",
                 *[p for p in prefixes if not p.endswith("/lhq")]) == 1
    assert capsys.readouterr().err == f"error: {RECIPES / 'sc2-3b.yaml'} lists lhq, which no given dataset holds\n"
    assert os.path.getsize(prefixes[0] + ".bin") > 5e11  # sparse: the test writes only the indexes
