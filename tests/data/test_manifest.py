"""Manifests turn target shares into --data-path weights, refuse mixed tokenizers, and training logs them."""

from __future__ import annotations

import json
import logging
import runpy
import shutil
from pathlib import Path

import pytest

from megatron_sc2.data.datasets import build_datasets
from megatron_sc2.data.preprocess import PreprocessConfig, preprocess

REPO_ROOT = Path(__file__).resolve().parents[2]


def blend(argv: list[str]) -> int:
    return runpy.run_path(str(REPO_ROOT / "tools" / "blend_data_path.py"))["main"](argv)


@pytest.fixture(scope="module")
def datasets(tmp_path_factory, stdlib_records, sc2_tokenizer_dir) -> dict[str, str]:
    """Two datasets of one tokenizer: "code" (most of the corpus) and "docs" (its tests)."""
    folder = tmp_path_factory.mktemp("manifests")
    prefixes = {}
    for name, records in (("code", stdlib_records[::2]), ("docs", stdlib_records[1::9])):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
        config = PreprocessConfig(
            inputs=[str(folder / f"{name}.jsonl")], output_prefix=str(folder / "out" / name), append_eod=True,
            tokenizer_type="HuggingFaceTokenizer", tokenizer_model=str(sc2_tokenizer_dir), workers=1,
        )  # fmt: skip
        preprocess(config, log=lambda line: None)
        prefixes[name] = str(folder / "out" / f"{name}_content_document")
    return prefixes


def tokens(prefix: str) -> int:
    return json.loads(Path(prefix + ".manifest.json").read_text())["tokens"]


def test_shares_become_weights_and_epochs(datasets, capsys):
    code, docs = datasets["code"], datasets["docs"]
    assert blend(["--train-tokens", "1e6", "3", code, "1", docs]) == 0
    out, err = capsys.readouterr()
    assert out == f"--data-path 0.75 {code} 0.25 {docs}\n"
    assert f"({0.75e6 / tokens(code):.2f} epochs)" in err and f"({0.25e6 / tokens(docs):.2f} epochs)" in err


def test_mixed_tokenizers_are_refused(datasets, tmp_path, capsys):
    other = str(tmp_path / "other_content_document")
    for suffix in (".bin", ".idx", ".manifest.json"):
        shutil.copy(datasets["docs"] + suffix, other + suffix)
    manifest = json.loads(Path(other + ".manifest.json").read_text())
    manifest["tokenizer"]["sha256"] = "0" * 64
    Path(other + ".manifest.json").write_text(json.dumps(manifest))
    assert blend(["0.5", datasets["code"], "0.5", other]) == 1
    assert capsys.readouterr().err.endswith(
        "were made by different tokenizers: one --data-path blends datasets of one tokenizer\n"
    )


def test_a_prefix_without_manifest_is_named(tmp_path, datasets, capsys):
    missing = str(tmp_path / "megatron_lm_content_document")
    assert blend(["0.5", datasets["code"], "0.5", missing]) == 1
    assert capsys.readouterr().err == (f"error: {missing}.manifest.json does not exist: re-run "
                                       "tools/preprocess_data.py or tools/merge_datasets.py for this prefix\n")


@pytest.mark.usefixtures("gloo_group")
def test_training_logs_what_each_blended_prefix_holds(datasets, sc2_tokenizer, tmp_path, caplog):
    code, docs = datasets["code"], datasets["docs"]
    documents = json.loads(Path(code + ".manifest.json").read_text())["documents"]
    with caplog.at_level(logging.INFO, logger="megatron_sc2"):
        build_datasets(["0.7", code, "0.3", docs], "100,0,0", 128, 1234, sc2_tokenizer, (50, 0, 0),
                       cache_path=str(tmp_path / "cache"))
    assert f"--data-path {code}: {documents:,} documents, {tokens(code):,} tokens" in caplog.messages


@pytest.mark.parametrize("shares, expected", [
    (["nan", "1"], "error: share nan of {code}: every share must be a positive finite number"),
    (["inf", "1"], "error: share inf of {code}: every share must be a positive finite number"),
    (["1e308", "1e308"], None),
], ids=["nan", "inf", "1e308"])
def test_shares_that_are_not_finite_are_refused_and_huge_ones_normalized(datasets, capsys, shares, expected):
    code, docs = datasets["code"], datasets["docs"]
    result = blend([shares[0], code, shares[1], docs])
    out, err = capsys.readouterr()
    if expected is None:
        assert result == 0 and out == f"--data-path 0.5 {code} 0.5 {docs}\n"
    else:
        assert result == 1 and out == "" and len(err.splitlines()) == 1
        assert err.startswith(expected.format(code=code))


@pytest.mark.parametrize("train_tokens", ["nan", "inf", "-5", "0"])
def test_train_tokens_must_be_a_count(datasets, capsys, train_tokens):
    with pytest.raises(SystemExit) as exit_:
        blend(["--train-tokens", train_tokens, "1", datasets["code"]])
    err = capsys.readouterr().err
    assert exit_.value.code == 2 and "Traceback" not in err and "epochs" not in err
    assert err.splitlines()[-1].endswith(f"error: --train-tokens {float(train_tokens)}: give the tokens the run "
                                         "trains on, a number of at least 1")


@pytest.mark.usefixtures("gloo_group")
def test_a_manifest_whose_counts_are_not_its_index_is_refused(datasets, tmp_path, capsys, caplog):
    """Edited counts (or a manifest of another run) would mislead the blend's weights and training's log."""
    edited = str(tmp_path / "edited_content_document")
    for suffix in (".bin", ".idx", ".manifest.json", ".tokenizer-id.json"):
        shutil.copy(datasets["docs"] + suffix, edited + suffix)
    manifest = json.loads(Path(edited + ".manifest.json").read_text())
    documents, real = manifest["documents"], manifest["tokens"]
    manifest["tokens"] = real * 10
    Path(edited + ".manifest.json").write_text(json.dumps(manifest))
    assert blend(["0.5", datasets["code"], "0.5", edited]) == 1
    assert capsys.readouterr().err == (
        f"error: {edited}.manifest.json says {documents:,} documents and {10 * real:,} tokens, but {edited}.idx "
        f"holds {documents:,} and {real:,} (edited, or of another run): re-run tools/preprocess_data.py or "
        "tools/merge_datasets.py for this prefix\n")
    merge = runpy.run_path(str(REPO_ROOT / "tools" / "merge_datasets.py"))["main"]
    with caplog.at_level(logging.INFO, logger="megatron_sc2"):
        assert merge(["--input", datasets["code"], edited, "--output-prefix", str(tmp_path / "merged")]) == 1
    assert caplog.messages[-1].startswith(f"error: {edited}.manifest.json says ")
    assert not list(tmp_path.glob("merged*"))
