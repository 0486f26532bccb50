"""The tiktoken fast path is the same function as Hugging Face `tokenizers`, or is not used."""

from __future__ import annotations

import json

import pytest

from megatron_sc2.data.fast_encoder import (
    HuggingFaceEncoder,
    TiktokenEncoder,
    UnsupportedTokenizer,
    build_encoder,
)
from megatron_sc2.data.special_tokens import EOD, FILE_SEP, REPO_NAME

# Where a split regex that is only "nearly" StarCoder's would differ from Digits + GPT-2.
TRAPS = [
    "x   1",  # whitespace run before a digit: "x", "   ", "1"
    "if a  >  12:\n        return 3.14159\n",
    "a\n\n\n  42\n",
    "\t\t7\t \t8",
    "  1  2  3   ",
    "v = [1,2, 3 ,  4]",
    "x" + " " * 2000 + "9" + "\n" * 500 + " " * 3000,  # long whitespace runs
    "٣٤ ² Ⅻ ½ x²",  # Arabic-Indic digits, superscript, roman numeral (Nl), fraction (No)
    "it's we'll I'M they're 'd '12",  # contractions, case-sensitive
    "naïve café 東京 🤖 e\u0301 Straße",  # non-ASCII letters, emoji, combining mark
    "a\u00a0b\u3000c\u2028d\u0085e\u200bf\u000bg\u000ch",  # Unicode spaces and separators
    f"{FILE_SEP}a.py\nx = 1{EOD}{REPO_NAME}r",  # special tokens written literally in text
    "<file_sep <file_sep>> <|endoftext|x",  # near-misses next to a real one
    "",
]


@pytest.fixture(scope="module")
def tokenizer_json(sc2_tokenizer_dir):
    return sc2_tokenizer_dir / "tokenizer.json"


@pytest.fixture(scope="module")
def encoders(tokenizer_json):
    return TiktokenEncoder(tokenizer_json), HuggingFaceEncoder(tokenizer_json)


def assert_same(fast, reference, texts, special_tokens):
    for text, a, b in zip(
        texts, fast.encode_batch(texts, special_tokens), reference.encode_batch(texts, special_tokens)
    ):
        assert a.tolist() == b.tolist(), f"fast path differs on {text[:80]!r}"


@pytest.mark.parametrize("special_tokens", [True, False])
def test_identical_to_hugging_face_on_traps(encoders, special_tokens):
    assert_same(*encoders, TRAPS, special_tokens)


def test_identical_to_hugging_face_on_real_code(encoders, stdlib_records):
    texts = [record["content"] for record in stdlib_records[::3]]
    assert_same(*encoders, texts, special_tokens=True)


def test_special_tokens_switch(encoders, sc2_tokenizer):
    fast, _ = encoders
    text = f"a{FILE_SEP}b"
    assert sc2_tokenizer.token_id(FILE_SEP) in fast.encode(text, special_tokens=True).tolist()
    as_text = fast.encode(text, special_tokens=False).tolist()
    assert sc2_tokenizer.token_id(FILE_SEP) not in as_text
    assert sc2_tokenizer.decode(as_text) == text


def test_plain_gpt2_byte_level_pre_tokenizer(tmp_path, stdlib_records):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600, special_tokens=[EOD], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    texts = [record["content"] for record in stdlib_records[:40]]
    tokenizer.train_from_iterator(texts, trainer=trainer)
    tokenizer.save(str(tmp_path / "tokenizer.json"))
    fast, reference = (
        TiktokenEncoder(tmp_path / "tokenizer.json"),
        HuggingFaceEncoder(tmp_path / "tokenizer.json"),
    )
    assert_same(fast, reference, TRAPS + texts, special_tokens=True)


def edited(tokenizer_json, tmp_path, edit):
    config = json.loads(tokenizer_json.read_text())
    edit(config)
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(config))
    return path


def contiguous_digits(config):
    config["pre_tokenizer"]["pretokenizers"][0]["individual_digits"] = False


def swapped_merges(config):
    merges = config["model"]["merges"]
    merges[10], merges[11] = merges[11], merges[10]


def with_normalizer(config):
    config["normalizer"] = {"type": "NFC"}


def stripping_special(config):
    config["added_tokens"][1]["lstrip"] = True


@pytest.mark.parametrize(
    "edit, reason",
    [
        (contiguous_digits, "pre-tokenizer"),
        (swapped_merges, "id order"),
        (with_normalizer, "normalizer"),
        (stripping_special, "lstrip"),
    ],
)
def test_unsupported_tokenizers_fall_back_to_hugging_face(tokenizer_json, tmp_path, edit, reason):
    path = edited(tokenizer_json, tmp_path, edit)
    with pytest.raises(UnsupportedTokenizer, match=reason):
        TiktokenEncoder(path)
    messages = []
    encoder = build_encoder("HuggingFaceTokenizer", path, None, messages.append)
    assert isinstance(encoder, HuggingFaceEncoder)
    assert len(messages) == 1 and reason in messages[0]


def test_supported_tokenizer_takes_fast_path(tokenizer_json):
    messages = []
    assert isinstance(
        build_encoder("HuggingFaceTokenizer", tokenizer_json.parent, None, messages.append), TiktokenEncoder
    )
    assert messages == []
