r"""Token encoders for preprocessing: an exact tiktoken path for byte-level BPE, and fallbacks.

Tokenization is the ceiling of preprocessing speed. Hugging Face `tokenizers` runs a StarCoder-style
byte-level BPE at about 2 MB/s on two cores; tiktoken runs the same merges several times faster. The
fast path is taken only for tokenizers of the form it reproduces, checked when it is built: no
normalizer, a pre-tokenizer whose split one regex expresses (`PRE_TOKENIZER_PATTERNS`), a plain
byte-level BPE whose token ids follow merge order and whose every multi-byte token comes from a merge
(tiktoken ranks merges by the id of the merged bytes, Hugging Face by the merge list), and special
tokens without strip/word options. Anything else falls back to Hugging Face, and the log says why.
Token-for-token identity with Hugging Face is then verified on real code: by the tests on a sample,
by benchmarks/preprocess.py on the whole standard library.

Why one regex is enough for StarCoder's pre-tokenizer (`Digits(individual_digits)` then the GPT-2
regex): Digits cuts the text into single numeric characters and the runs between them, and GPT-2's
regex then runs on each run separately. No GPT-2 alternative can cross a numeric character except
through its look-ahead: `\s+(?!\S)` at the end of a run (before a digit) sees "end of text". So
the whole split is `\p{N}` first, then GPT-2 with that look-ahead widened to "followed by
whitespace, a digit or the end": `\s+(?![^\s\p{N}])`. Whitespace before digits is the classic trap
this handles ("x   1" splits as "x", "   ", "1", not "x", "  ", " 1").

Both encoders take `special_tokens`: True encodes special-token text such as `<file_sep>` as the
special id (what Hugging Face and Megatron-LM do by default); False encodes it as ordinary text.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

# Hugging Face pre-tokenizer (as in tokenizer.json, minus options that do not change the split)
# -> the tiktoken split regex that produces the same pieces.
PRE_TOKENIZER_PATTERNS = {
    "starcoder: individual digits, then GPT-2 byte-level": (
        {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": True},
                {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
            ],
        },
        r"\p{N}|'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?[^\s\p{L}\p{N}]+|\s+(?![^\s\p{N}])|\s+",
    ),
    "gpt-2 byte-level": (
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+",
    ),
}
IGNORED_PRE_TOKENIZER_OPTIONS = ("trim_offsets",)  # offsets only, never the pieces


class Encoder(Protocol):
    name: str

    def encode_batch(self, texts: Sequence[str], special_tokens: bool) -> list[np.ndarray]: ...


class UnsupportedTokenizer(ValueError):
    """The tokenizer is outside what the exact fast path can reproduce; the message says why."""


def _byte_level_table() -> dict[int, str]:
    """str.translate table from GPT-2's byte-level alphabet (printable stand-ins for the 256 bytes)
    to latin-1 characters whose code is the byte; other latin-1 characters map to one that fails."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {code: "\uffff" for code in range(256)}
    table.update({b: chr(b) for b in printable})
    stand_ins = (b for b in range(256) if b not in printable)
    table.update({256 + i: chr(b) for i, b in enumerate(stand_ins)})
    return table


def _token_bytes(token: str, table: dict[int, str]) -> bytes:
    try:
        return token.translate(table).encode("latin-1")
    except UnicodeEncodeError:
        raise UnsupportedTokenizer(f"vocabulary entry {token!r} is not byte-level") from None


def _without(options: dict | list, ignored: tuple[str, ...]):
    if isinstance(options, dict):
        return {k: _without(v, ignored) for k, v in options.items() if k not in ignored}
    if isinstance(options, list):
        return [_without(v, ignored) for v in options]
    return options


def split_pattern(pre_tokenizer: dict | None) -> str:
    """The tiktoken regex equal to this Hugging Face pre-tokenizer, or UnsupportedTokenizer."""
    wanted = _without(pre_tokenizer, IGNORED_PRE_TOKENIZER_OPTIONS)
    for spec, pattern in PRE_TOKENIZER_PATTERNS.values():
        if wanted == spec:
            return pattern
    raise UnsupportedTokenizer(f"pre-tokenizer {json.dumps(pre_tokenizer)} has no equivalent split regex")


def _check_model(config: dict) -> None:
    if config.get("normalizer") is not None:
        raise UnsupportedTokenizer(f"normalizer {config['normalizer'].get('type')} is not supported")
    model = config["model"]
    unsupported = {
        "type": model.get("type") != "BPE",
        "dropout": model.get("dropout") is not None,
        "continuing_subword_prefix": bool(model.get("continuing_subword_prefix")),
        "end_of_word_suffix": bool(model.get("end_of_word_suffix")),
        "byte_fallback": bool(model.get("byte_fallback")),
    }
    for option, bad in unsupported.items():
        if bad:
            raise UnsupportedTokenizer(f"model option {option}={model.get(option)!r} is not supported")
    for token in config.get("added_tokens", []):
        for option in ("lstrip", "rstrip", "single_word"):
            if token.get(option):
                raise UnsupportedTokenizer(f"added token {token['content']!r} has {option}=true")


def _mergeable_ranks(config: dict) -> dict[bytes, int]:
    """Vocabulary as bytes -> id, after checking that id order is merge order."""
    table = _byte_level_table()
    added = {token["content"] for token in config.get("added_tokens", [])}
    ranks = {
        _token_bytes(token, table): token_id
        for token, token_id in config["model"]["vocab"].items()
        if token not in added
    }
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        raise UnsupportedTokenizer(f"{len(missing)} of the 256 bytes are not in the vocabulary")
    produced = set()
    last = -1
    for merge in config["model"]["merges"]:
        left, right = merge.split(" ") if isinstance(merge, str) else merge
        merged = _token_bytes(left + right, table)
        rank = ranks.get(merged)
        if rank is None or rank <= last:
            raise UnsupportedTokenizer(
                f"merge {left!r} + {right!r} breaks the id order that tiktoken ranks by"
            )
        last = rank
        produced.add(merged)
    orphans = [t for t in ranks if len(t) > 1 and t not in produced]
    if orphans:
        raise UnsupportedTokenizer(f"{len(orphans)} multi-byte vocabulary entries are produced by no merge")
    return ranks


def _check_special_tokens(special: dict[str, int]) -> None:
    """tiktoken matches special tokens leftmost-first in hash order; HF leftmost-longest."""
    for a in special:
        for b in special:
            if a != b and b.startswith(a):
                raise UnsupportedTokenizer(f"special token {a!r} is a prefix of {b!r}")


class TiktokenEncoder:
    """Exact byte-level BPE on tiktoken; encoding releases the GIL, so threads scale."""

    def __init__(self, tokenizer_json: str | Path):
        import tiktoken

        config = json.loads(Path(tokenizer_json).read_text(encoding="utf-8"))
        _check_model(config)
        pattern = split_pattern(config.get("pre_tokenizer"))
        ranks = _mergeable_ranks(config)
        special = {token["content"]: token["id"] for token in config.get("added_tokens", [])}
        _check_special_tokens(special)
        self._encoding = tiktoken.Encoding(
            f"megatron_sc2:{tokenizer_json}", pat_str=pattern, mergeable_ranks=ranks, special_tokens=special
        )
        self._all_special = frozenset(special)
        self.name = "tiktoken (exact fast path)"

    def encode(self, text: str, special_tokens: bool) -> np.ndarray:
        if special_tokens:
            return self._encoding.encode_to_numpy(
                text, allowed_special=self._all_special, disallowed_special=()
            )
        return self._encoding.encode_to_numpy(text, allowed_special=frozenset(), disallowed_special=())

    def encode_batch(self, texts: Sequence[str], special_tokens: bool) -> list[np.ndarray]:
        return [self.encode(text, special_tokens) for text in texts]


class HuggingFaceEncoder:
    """Hugging Face `tokenizers` itself (the reference the fast path is checked against)."""

    def __init__(self, tokenizer_json: str | Path):
        from tokenizers import Tokenizer

        self._with_special = Tokenizer.from_file(str(tokenizer_json))
        self._as_text = Tokenizer.from_file(str(tokenizer_json))
        self._as_text.encode_special_tokens = True
        self.name = "Hugging Face tokenizers"

    def encode_batch(self, texts: Sequence[str], special_tokens: bool) -> list[np.ndarray]:
        tokenizer = self._with_special if special_tokens else self._as_text
        encodings = tokenizer.encode_batch_fast(list(texts), add_special_tokens=False)
        return [np.asarray(e.ids, dtype=np.uint32) for e in encodings]


class TokenizerEncoder:
    """Any project tokenizer (`megatron_sc2.data.tokenizer`), through its own `encode_batch`.

    Used for tokenizers that are not Hugging Face ones (SentencePiece), which have no notion of
    special-token text to switch off: `special_tokens` changes nothing there.
    """

    def __init__(self, tokenizer):
        self._tokenizer = tokenizer
        self.name = type(tokenizer).__name__

    def encode_batch(self, texts: Sequence[str], special_tokens: bool) -> list[np.ndarray]:
        return [np.asarray(ids, dtype=np.uint32) for ids in self._tokenizer.encode_batch(texts)]


def build_encoder(
    tokenizer_type: str, tokenizer_model: str | Path, tokenizer, log: Callable[[str], None]
) -> Encoder:
    """The fastest exact encoder for `tokenizer` (from `load_tokenizer` with the same arguments)."""
    if tokenizer_type != "HuggingFaceTokenizer":
        return TokenizerEncoder(tokenizer)
    model = Path(tokenizer_model)
    tokenizer_json = model / "tokenizer.json" if model.is_dir() else model
    try:
        return TiktokenEncoder(tokenizer_json)
    except UnsupportedTokenizer as reason:
        log(
            f"exact fast tokenizer path unavailable ({reason}); using Hugging Face tokenizers, which is slower"
        )
        return HuggingFaceEncoder(tokenizer_json)
