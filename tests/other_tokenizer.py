"""Another tokenizer of the same size as a given one: two token ids swapped, so every text that uses
them encodes differently while the vocabulary size and dtype stay the same."""

from __future__ import annotations

import json
from pathlib import Path


def other_tokenizer(tokenizer_dir: Path, into: Path) -> Path:
    """A folder with the tokenizer of `tokenizer_dir`, ids of its two first ordinary tokens swapped."""
    data = json.loads((Path(tokenizer_dir) / "tokenizer.json").read_text())
    special = {token["id"] for token in data["added_tokens"]}
    vocab = data["model"]["vocab"]
    a, b = sorted(token for token, i in vocab.items() if i not in special)[:2]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    into.mkdir(parents=True, exist_ok=True)
    (into / "tokenizer.json").write_text(json.dumps(data))
    return into
