"""StarCoder2 fill-in-the-middle: file-level FIM inside the repository context (reference §4.2).

A packed training window holds pieces of repositories separated by `<|endoftext|>`; inside a
repository, files are separated by `<file_sep>`. The transform follows the StarCoder2 recipe
(bigcode Megatron-LM, NeMo, Megatron-LM's GPTFIMDataset):

1. Split the window on EOD. A segment without `<file_sep>` is permuted with probability `rate`.
2. A segment with `<file_sep>` is chosen with probability `rate`; each of its files (the pieces
   between `<file_sep>`s) is then permuted with probability `fragment_rate`.
3. Permuting leaves repository metadata (`<repo_name>name`) alone; otherwise it decodes the
   piece to text, cuts it at two uniform character positions into prefix / middle / suffix,
   re-encodes each part, and emits SPM with probability `spm_rate`, else PSM:
       PSM: <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle
       SPM: <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle
4. The result is cut back to the window's length, or right-padded with `<fim_pad>`. As in the
   reference implementations, `<fim_pad>` positions are not masked out of the loss.

All randomness comes from the generator passed in, so the caller decides what a sample's
randomness depends on (see `datasets.py`: seed, dataset and sample index only).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from megatron_sc2.data.special_tokens import (
    EOD,
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PAD,
    FIM_PREFIX,
    FIM_SUFFIX,
    REPO_NAME,
)
from megatron_sc2.data.tokenizer import Tokenizer


@dataclass(frozen=True)
class FIMConfig:
    """`--fim-rate`, `--fim-spm-rate`, `--fim-fragment-rate` (StarCoder2 used 0.5 for each)."""

    rate: float = 0.5
    spm_rate: float = 0.5
    fragment_rate: float = 0.5

    def __post_init__(self):
        for name in ("rate", "spm_rate", "fragment_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"FIM {name} must be in [0, 1], got {value}")


class FIMTransform:
    """Rewrites one packed token window with StarCoder2 FIM, keeping its length."""

    def __init__(self, config: FIMConfig, tokenizer: Tokenizer):
        self.config = config
        self.tokenizer = tokenizer
        self.eod = tokenizer.token_id(EOD)
        self.file_sep = tokenizer.token_id(FILE_SEP)
        self.prefix, self.middle, self.suffix, self.pad, self.repo_name = (
            tokenizer.token_id(name) for name in (FIM_PREFIX, FIM_MIDDLE, FIM_SUFFIX, FIM_PAD, REPO_NAME)
        )
        self.special_ids = np.array(sorted(tokenizer.special_ids))

    def __call__(self, window: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        pieces = []
        for i, segment in enumerate(_split(window, self.eod)):
            if i:
                pieces.append([self.eod])
            if len(segment):
                pieces += self._split_and_permute(segment, rng)
        tokens = np.concatenate([np.asarray(p, dtype=window.dtype) for p in pieces])[: len(window)]
        return np.pad(tokens, (0, len(window) - len(tokens)), constant_values=self.pad)

    def _split_and_permute(self, segment: np.ndarray, rng: np.random.Generator) -> list:
        if not (segment == self.file_sep).any():
            return [self._permute(segment, self.config.rate, rng)]
        if rng.random() >= self.config.rate:
            return [segment]
        pieces = []
        for i, fragment in enumerate(_split(segment, self.file_sep)):
            if i:
                pieces.append([self.file_sep])
            if len(fragment):
                pieces.append(self._permute(fragment, self.config.fragment_rate, rng))
        return pieces

    def _permute(self, tokens: np.ndarray, rate: float, rng: np.random.Generator):
        if rng.random() >= rate or tokens[0] == self.repo_name:
            return tokens
        runs = self._runs(tokens)
        length = sum(len(text) for text, _ in runs)
        start, end = sorted(rng.integers(0, length + 1, size=2))
        prefix, middle, suffix = self._encode(
            [_clip(runs, a, b) for a, b in ((0, start), (start, end), (end, length))]
        )
        if rng.random() < self.config.spm_rate:
            return [self.prefix, self.suffix, *suffix, self.middle, *prefix, *middle]
        return [self.prefix, *prefix, self.suffix, *suffix, self.middle, *middle]

    def _runs(self, tokens: np.ndarray) -> list[tuple[str, int | None]]:
        """The decoded text as runs: (text, None) between special tokens, (name, id) for each."""
        runs, start = [], 0
        for i in [*np.flatnonzero(np.isin(tokens, self.special_ids)).tolist(), len(tokens)]:
            if i > start:
                runs.append((self.tokenizer.decode(tokens[start:i].tolist()), None))
            if i < len(tokens):
                runs.append((self.tokenizer.decode([int(tokens[i])]), int(tokens[i])))
            start = i + 1
        return runs

    def _encode(self, spans: list[list[str | int]]) -> list[list[int]]:
        """Token ids of each span: its text encoded as plain text (so a literal `<file_sep>` in a
        file stays text, as preprocessing wrote it), its special tokens kept as they were."""
        texts = [piece for span in spans for piece in span if isinstance(piece, str)]
        encoded = iter(self.tokenizer.encode_batch(texts, special_tokens=False))
        return [[t for p in span for t in (next(encoded) if isinstance(p, str) else [p])] for span in spans]


def _clip(runs: list[tuple[str, int | None]], start: int, end: int) -> list[str | int]:
    """Characters [start, end) of the runs: text, and the ids of special tokens wholly inside
    (a special token cut by a boundary becomes its partial name as text, as in the reference)."""
    pieces, offset = [], 0
    for text, token in runs:
        lo, hi = max(start, offset), min(end, offset + len(text))
        if lo < hi:
            if token is not None and hi - lo == len(text):
                pieces.append(token)
            elif pieces and isinstance(pieces[-1], str):
                pieces[-1] += text[lo - offset : hi - offset]
            else:
                pieces.append(text[lo - offset : hi - offset])
        offset += len(text)
    return pieces


def _split(tokens: np.ndarray, separator: int) -> list[np.ndarray]:
    """The runs of `tokens` between occurrences of `separator` (one more run than separators)."""
    cuts = np.flatnonzero(tokens == separator)
    starts = np.concatenate([[0], cuts + 1])
    ends = np.concatenate([cuts, [len(tokens)]])
    return [tokens[start:end] for start, end in zip(starts, ends)]
