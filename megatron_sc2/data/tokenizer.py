"""Tokenizers behind one small interface, chosen by Megatron-LM's `--tokenizer-type` names.

Encoding adds nothing (no BOS, no post-processing): preprocessing appends the EOD token
itself, and FIM re-encodes fragments that must not gain extra tokens. Decoding keeps special
tokens, so `<file_sep>` and friends survive a decode/encode round trip. Special ids are
always looked up by name (`token_id`), never assumed.

`special_tokens=False` encodes special-token text such as a literal `<file_sep>` inside a file
as ordinary text; sentencepiece cannot switch its user-defined symbols off, so there the flag
changes nothing.

`identity` is a sha256 of what token ids mean: every id with its token, and the merges (or piece
scores) that choose them. It is computed from the loaded model, not the file's bytes, so the same
tokenizer saved by another `tokenizers` release has the same identity.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cached_property
from pathlib import Path
from typing import Protocol

from megatron_sc2.data.special_tokens import EOD, SPECIAL_TOKENS


class Tokenizer(Protocol):
    path: str
    vocab_size: int
    eod: int
    special_ids: frozenset[int]
    identity: str

    def encode(self, text: str, special_tokens: bool = True) -> list[int]: ...

    def encode_batch(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]: ...

    def decode(self, ids: Sequence[int]) -> str: ...

    def token_id(self, name: str) -> int: ...


class HuggingFaceTokenizer:
    """A Hugging Face `tokenizers` model: a `tokenizer.json`, or a folder holding one."""

    def __init__(self, path: str | Path):
        from tokenizers import Tokenizer as _HFTokenizer

        self.path = str(path)
        file = Path(path) / "tokenizer.json" if Path(path).is_dir() else Path(path)
        if not file.is_file():
            raise FileNotFoundError(
                f"no Hugging Face tokenizer at {path} (expected a tokenizer.json or a folder with one)"
            )
        try:
            self._tok = _HFTokenizer.from_file(str(file))
        except Exception as e:  # noqa: BLE001 (tokenizers raises a bare Exception for a file it cannot read)
            raise ValueError(f"{file} is not a Hugging Face tokenizer.json ({e}): give --tokenizer-model a "
                             f"tokenizer.json or a folder with one") from None
        self._as_text = _HFTokenizer.from_file(str(file))
        self._as_text.encode_special_tokens = True
        self.vocab_size = self._tok.get_vocab_size(with_added_tokens=True)
        self.eod = self.token_id(EOD)
        added = self._tok.get_added_tokens_decoder()
        self.special_ids = frozenset(i for i, token in added.items() if token.special)

    @cached_property
    def identity(self) -> str:
        vocab = sorted(self._tok.get_vocab(with_added_tokens=True).items(), key=lambda item: item[1])
        merges = json.loads(self._tok.to_str())["model"].get("merges", [])
        # "a b" (older tokenizers releases) and ["a", "b"] (newer) are the same merge
        merges = [m.split(" ") if isinstance(m, str) else m for m in merges]
        return _sha256({"vocab": vocab, "merges": merges})

    def encode(self, text: str, special_tokens: bool = True) -> list[int]:
        tokenizer = self._tok if special_tokens else self._as_text
        return tokenizer.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        tokenizer = self._tok if special_tokens else self._as_text
        return [e.ids for e in tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)]

    def decode(self, ids: Sequence[int]) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=False)

    def token_id(self, name: str) -> int:
        token_id = self._tok.token_to_id(name)
        if token_id is None:
            raise KeyError(f"token {name!r} is not in the tokenizer {self.path}")
        return token_id

    def __reduce__(self):
        return type(self), (self.path,)


class SentencePieceTokenizer:
    """A sentencepiece `.model`. EOD is `<|endoftext|>` if the model has it, else its EOS piece.

    Special ids are its control pieces plus the StarCoder2 special tokens it has (sentencepiece
    does not expose which pieces are user-defined symbols).
    """

    def __init__(self, path: str | Path):
        import sentencepiece

        self.path = str(path)
        if not Path(path).is_file():
            raise FileNotFoundError(f"no sentencepiece model at {path}")
        try:
            self._sp = sentencepiece.SentencePieceProcessor(model_file=self.path)
        except RuntimeError as e:
            raise ValueError(f"{path} is not a sentencepiece model ({e}): give --tokenizer-model a .model "
                             f"file") from None
        self.vocab_size = self._sp.get_piece_size()
        self.eod = self._eod()
        control = {i for i in range(self.vocab_size) if self._sp.is_control(i)}
        known = {self._sp.piece_to_id(name) for name in SPECIAL_TOKENS if self._has(name)}
        self.special_ids = frozenset(control | known)

    @cached_property
    def identity(self) -> str:
        pieces = [[self._sp.id_to_piece(i), self._sp.get_score(i)] for i in range(self.vocab_size)]
        return _sha256({"pieces": pieces})

    def _eod(self) -> int:
        try:
            return self.token_id(EOD)
        except KeyError:
            if self._sp.eos_id() < 0:
                raise KeyError(
                    f"sentencepiece model {self.path} has neither {EOD!r} nor an EOS piece"
                ) from None
            return self._sp.eos_id()

    def encode(self, text: str, special_tokens: bool = True) -> list[int]:
        return self._sp.encode(text)

    def encode_batch(self, texts: Sequence[str], special_tokens: bool = True) -> list[list[int]]:
        return self._sp.encode(list(texts))

    def decode(self, ids: Sequence[int]) -> str:
        return self._sp.decode(list(ids))

    def token_id(self, name: str) -> int:
        if not self._has(name):
            raise KeyError(f"token {name!r} is not in the sentencepiece model {self.path}")
        return self._sp.piece_to_id(name)

    def _has(self, name: str) -> bool:
        return self._sp.id_to_piece(self._sp.piece_to_id(name)) == name  # unknown pieces map to <unk>

    def __reduce__(self):
        return type(self), (self.path,)


def _sha256(meaning: dict) -> str:
    return hashlib.sha256(json.dumps(meaning, ensure_ascii=False, separators=(",", ":")).encode()).hexdigest()


TOKENIZER_TYPES = {
    "HuggingFaceTokenizer": HuggingFaceTokenizer,
    "SentencePieceTokenizer": SentencePieceTokenizer,
}


def load_tokenizer(tokenizer_type: str, tokenizer_model: str | Path) -> Tokenizer:
    """The tokenizer for `--tokenizer-type` / `--tokenizer-model`."""
    if tokenizer_type not in TOKENIZER_TYPES:
        raise ValueError(
            f"unknown --tokenizer-type {tokenizer_type!r}; choose one of {sorted(TOKENIZER_TYPES)}"
        )
    return TOKENIZER_TYPES[tokenizer_type](tokenizer_model)
