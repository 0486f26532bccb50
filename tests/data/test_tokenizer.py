"""Tokenizer loading, the StarCoder2 tokenizer layout, and agreement with transformers."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import pytest

from megatron_sc2.data.special_tokens import EOD, FILE_SEP, SPECIAL_TOKENS
from megatron_sc2.data.tokenizer import HuggingFaceTokenizer, SentencePieceTokenizer, load_tokenizer

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def stdlib_texts(stdlib_records) -> list[str]:
    return [record["content"] for record in stdlib_records]


def test_round_trip_on_real_code(sc2_tokenizer, stdlib_texts):
    for text in stdlib_texts:
        assert sc2_tokenizer.decode(sc2_tokenizer.encode(text)) == text


def test_encode_batch_equals_encode(sc2_tokenizer, stdlib_texts):
    texts = stdlib_texts[:20]
    assert sc2_tokenizer.encode_batch(texts) == [sc2_tokenizer.encode(t) for t in texts]


def test_special_tokens_are_single_ids_in_starcoder2_order(sc2_tokenizer):
    assert sc2_tokenizer.vocab_size == 2048  # conftest trains this size
    assert sc2_tokenizer.eod == sc2_tokenizer.token_id(EOD) == 0
    for expected_id, name in enumerate(SPECIAL_TOKENS):
        assert sc2_tokenizer.token_id(name) == expected_id
        assert sc2_tokenizer.encode(name) == [expected_id]
    ids = sc2_tokenizer.encode(f"{FILE_SEP}a.py\nx = 1{EOD}")
    assert ids[0] == sc2_tokenizer.token_id(FILE_SEP) and ids[-1] == sc2_tokenizer.eod
    assert sc2_tokenizer.decode(ids) == f"{FILE_SEP}a.py\nx = 1{EOD}"


def test_special_token_text_can_be_encoded_as_text(sc2_tokenizer):
    text = f"x = '{FILE_SEP}' + '{EOD}'\n"
    as_text = sc2_tokenizer.encode(text, special_tokens=False)
    assert not set(as_text) & sc2_tokenizer.special_ids
    assert sc2_tokenizer.decode(as_text) == text
    assert sc2_tokenizer.encode_batch([text], special_tokens=False) == [as_text]
    assert sc2_tokenizer.special_ids == {sc2_tokenizer.token_id(name) for name in SPECIAL_TOKENS}


def test_unknown_special_token_is_a_clear_error(sc2_tokenizer):
    with pytest.raises(KeyError, match="<no_such_token>"):
        sc2_tokenizer.token_id("<no_such_token>")


def test_no_tokens_added_on_encode(sc2_tokenizer):
    assert sc2_tokenizer.encode("") == []
    assert sc2_tokenizer.eod not in sc2_tokenizer.encode("def f():\n    return 1\n")


def test_digits_are_split_individually(sc2_tokenizer):
    text = "x = 123456789\n    y =   2024 + 0.5e10\n"
    ids = sc2_tokenizer.encode(text)
    for token_id in ids:
        piece = sc2_tokenizer.decode([token_id])
        assert not any(c.isdigit() for c in piece) or piece.strip().isdigit() and len(piece.strip()) == 1


def test_transformers_autotokenizer_agrees_token_for_token(sc2_tokenizer_dir, sc2_tokenizer, stdlib_texts):
    transformers = pytest.importorskip("transformers")
    hf = transformers.AutoTokenizer.from_pretrained(str(sc2_tokenizer_dir))
    assert hf.eos_token == hf.bos_token == EOD
    assert hf.eos_token_id == sc2_tokenizer.eod and len(hf) == sc2_tokenizer.vocab_size
    for text in stdlib_texts:
        assert hf(text)["input_ids"] == sc2_tokenizer.encode(text)
    sample = stdlib_texts[0][:2000]
    assert hf.decode(sc2_tokenizer.encode(sample)) == sample


def test_load_accepts_file_or_folder(sc2_tokenizer_dir, sc2_tokenizer):
    from_file = load_tokenizer("HuggingFaceTokenizer", sc2_tokenizer_dir / "tokenizer.json")
    assert isinstance(from_file, HuggingFaceTokenizer)
    assert from_file.encode("import os\n") == sc2_tokenizer.encode("import os\n")


def test_load_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="GPT2BPETokenizer"):
        load_tokenizer("GPT2BPETokenizer", tmp_path)
    with pytest.raises(FileNotFoundError, match=str(tmp_path)):
        load_tokenizer("HuggingFaceTokenizer", tmp_path)
    with pytest.raises(FileNotFoundError, match="missing.model"):
        load_tokenizer("SentencePieceTokenizer", tmp_path / "missing.model")


def test_tokenizer_pickles_for_dataloader_workers(sc2_tokenizer):
    clone = pickle.loads(pickle.dumps(sc2_tokenizer))
    assert clone.encode("class A:\n    pass\n") == sc2_tokenizer.encode("class A:\n    pass\n")
    assert (clone.vocab_size, clone.eod) == (sc2_tokenizer.vocab_size, sc2_tokenizer.eod)


def test_sentencepiece_tokenizer(tmp_path, stdlib_texts):
    sentencepiece = pytest.importorskip("sentencepiece")
    sentencepiece.SentencePieceTrainer.train(
        sentence_iterator=iter(line for text in stdlib_texts[:30] for line in text.splitlines() if line),
        model_prefix=str(tmp_path / "sp"),
        vocab_size=600,
        model_type="bpe",
        user_defined_symbols=[EOD, FILE_SEP],
        normalization_rule_name="identity",
        add_dummy_prefix=False,
        remove_extra_whitespaces=False,
        byte_fallback=True,
        minloglevel=2,
    )
    tok = load_tokenizer("SentencePieceTokenizer", tmp_path / "sp.model")
    assert isinstance(tok, SentencePieceTokenizer)
    assert tok.vocab_size == 600
    assert tok.encode(EOD) == [tok.eod] == [tok.token_id(EOD)]
    text = f"{FILE_SEP}def f(x):\n    return x + 1  # done{EOD}"
    assert tok.decode(tok.encode(text)) == text
    assert tok.encode_batch([text, "y"]) == [tok.encode(text), tok.encode("y")]
    assert {tok.eod, tok.token_id(FILE_SEP)} < tok.special_ids
    assert tok.identity == load_tokenizer("SentencePieceTokenizer", tmp_path / "sp.model").identity
    with pytest.raises(KeyError, match="<fim_pad>"):
        tok.token_id("<fim_pad>")


def test_train_tokenizer_names_the_bad_record(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"content": "x = 1\n"}) + "\n" + json.dumps({"text": "y"}) + "\n")
    tool = REPO_ROOT / "tools" / "train_tokenizer.py"
    command = [sys.executable, str(tool), str(bad), "--output-dir", str(tmp_path / "out")]
    result = subprocess.run(command, check=False, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"{bad}:2" in result.stderr and "'content'" in result.stderr
    assert not (tmp_path / "out" / "tokenizer.json").exists()


def test_identity_is_what_the_ids_mean(sc2_tokenizer_dir, sc2_tokenizer, tmp_path):
    """Loaded from the file or the folder, or with merges in older `tokenizers`' "a b" form: the same
    identity. Two ids swapped: another one, at the same vocabulary size."""
    from other_tokenizer import other_tokenizer

    assert len(sc2_tokenizer.identity) == 64
    from_file = load_tokenizer("HuggingFaceTokenizer", sc2_tokenizer_dir / "tokenizer.json")
    assert from_file.identity == sc2_tokenizer.identity
    data = json.loads((sc2_tokenizer_dir / "tokenizer.json").read_text())
    data["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in data["model"]["merges"]]
    (tmp_path / "old_form.json").write_text(json.dumps(data))
    old_form = load_tokenizer("HuggingFaceTokenizer", tmp_path / "old_form.json")
    assert old_form.identity == sc2_tokenizer.identity
    other = load_tokenizer("HuggingFaceTokenizer", other_tokenizer(sc2_tokenizer_dir, tmp_path / "other"))
    assert other.vocab_size == sc2_tokenizer.vocab_size and other.identity != sc2_tokenizer.identity


def test_identity_covers_the_merges(sc2_tokenizer_dir, sc2_tokenizer, tmp_path):
    """The same vocabulary with one merge fewer encodes the same text to other ids: another identity."""
    data = json.loads((sc2_tokenizer_dir / "tokenizer.json").read_text())
    merge = data["model"]["merges"].pop()
    merged = "".join(merge.split(" ") if isinstance(merge, str) else merge)
    (tmp_path / "fewer_merges.json").write_text(json.dumps(data))
    fewer = load_tokenizer("HuggingFaceTokenizer", tmp_path / "fewer_merges.json")
    assert fewer._tok.get_vocab(with_added_tokens=True) == sc2_tokenizer._tok.get_vocab(with_added_tokens=True)
    text = sc2_tokenizer.decode([sc2_tokenizer._tok.token_to_id(merged)])
    assert fewer.encode(text) != sc2_tokenizer.encode(text)
    assert fewer.identity != sc2_tokenizer.identity
