"""A local Hugging Face token-classification model (StarPII, which StarCoder2 redacted with) as a PII detector.

Each file is tokenized once with character offsets and cut into windows of at most 512 tokens, special tokens
included, without overlap (BigCode's `ner_inference.py`: `window_size=512`, `window_overlap=False`); windows of
many files are batched. Per-token labels (`B-`/`I-` tags or bare ones) become character spans, and StarCoder2's
post-filters (bigcode-dataset `pii/ner/pii_redaction/utils.py`) decide what is redacted: AMBIGUOUS and USERNAME are
ignored, values of 3 characters or fewer too; a KEY must look random and be longer than 8 characters; a NAME must
be a full name (two words or more); an IP address must be a public one that is not a popular DNS server.
"""

from collections.abc import Iterator
from typing import NamedTuple

from megatron_sc2.curation.pii_rules import Finding, looks_random, public_ip

WINDOW_TOKENS = 512
IGNORED_TAGS = frozenset({"AMBIGUOUS", "USERNAME"})


class Window(NamedTuple):
    """At most 512 tokens of one text: its token ids with the tokenizer's special tokens around them, where the
    text's tokens start, and their character offsets."""

    text: int
    ids: list[int]
    first: int
    offsets: list[tuple[int, int]]


def keep(tag: str, value: str) -> bool:
    """StarCoder2's post-filters on a model finding."""
    if tag in IGNORED_TAGS or len(value) <= 3:
        return False
    if tag == "KEY":
        return len(value) > 8 and looks_random(value)
    if tag == "NAME":
        return len(value.split()) > 1
    if tag == "IP_ADDRESS":
        return public_ip(value)
    return True


def _tag(label: str) -> tuple[str, bool]:
    """(entity tag, whether the label starts a new entity); `O` has the empty tag."""
    if label == "O":
        return "", False
    prefix, _, tag = label.partition("-")
    return (tag, prefix == "B") if tag and prefix in ("B", "I") else (label, False)


def spans(labels: list[str], offsets: list[tuple[int, int]]) -> Iterator[tuple[str, int, int]]:
    """(tag, start, end) character spans from per-token labels, BIO style: an entity runs over consecutive
    tokens of one tag and ends at `O`, at another tag or at a `B-` label."""
    current = None
    for label, (start, end) in zip(labels, offsets):
        tag, begins = _tag(label)
        if current and (tag != current[0] or begins):
            yield tuple(current)
            current = None
        if tag:
            current = [tag, start, end] if current is None else [tag, current[1], end]
    if current:
        yield tuple(current)


class PIIModel:
    """StarPII-style inference: `find(texts)` gives the post-filtered findings of each text."""

    def __init__(self, path: str, batch_size: int = 32, device: str | None = None):
        import torch
        from transformers import AutoModelForTokenClassification, AutoTokenizer

        self.torch = torch
        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.tokenizer = AutoTokenizer.from_pretrained(path)
        self.model = AutoModelForTokenClassification.from_pretrained(path).eval().to(self.device)
        if self.device != "cpu":
            self.model.half()
        self.labels = self.model.config.id2label
        self.batch_size = batch_size

    def _windows(self, texts: list[str]) -> list[Window]:
        encoded = self.tokenizer(texts, return_offsets_mapping=True, return_special_tokens_mask=True)
        windows = []
        for index, (ids, offsets, special) in enumerate(
            zip(encoded["input_ids"], encoded["offset_mapping"], encoded["special_tokens_mask"])
        ):
            first = special.index(0) if 0 in special else len(ids)
            last = len(ids) - special[::-1].index(0) if 0 in special else first
            prefix, suffix = ids[:first], ids[last:]
            size = WINDOW_TOKENS - len(prefix) - len(suffix)
            for start in range(first, last, size):
                end = min(start + size, last)
                windows.append(Window(index, prefix + ids[start:end] + suffix, len(prefix), offsets[start:end]))
        return windows

    def _labels(self, windows: list[Window]) -> list[list[str]]:
        """Per-token labels of the windows' text tokens (special tokens dropped)."""
        padded = self.tokenizer.pad({"input_ids": [w.ids for w in windows]}, return_tensors="pt")
        with self.torch.inference_mode():
            predicted = self.model(**padded.to(self.device)).logits.argmax(-1).tolist()
        return [[self.labels[p] for p in row[w.first : w.first + len(w.offsets)]] for w, row in zip(windows, predicted)]

    def find(self, texts: list[str]) -> list[list[Finding]]:
        windows = self._windows(texts)
        findings: list[list[Finding]] = [[] for _ in texts]
        for first in range(0, len(windows), self.batch_size):
            batch = windows[first : first + self.batch_size]
            for window, labels in zip(batch, self._labels(batch)):
                text = texts[window.text]
                for tag, start, end in spans(labels, window.offsets):
                    value = text[start:end].strip()
                    start += text[start:end].index(value) if value else 0
                    if keep(tag, value):
                        findings[window.text].append(Finding(start, start + len(value), tag, value))
        return findings
