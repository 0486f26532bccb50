"""Token loss, perplexity and bits per byte of a model on held-out code, at a chosen sequence length.

The text is either a preprocessed `.bin/.idx` prefix (what the run trained on, e.g. its held-out
split, read with megatron-core's IndexedDataset) or a JSONL of files (`repo_name`, `path`,
`content`) grouped by repository into the StarCoder2 repository-context documents exactly as
preprocessing writes them (data/repo_context.py). Documents are concatenated and cut into
non-overlapping windows of seq_length + 1 tokens; the loss is the mean next-token loss over all
windows. Bits per byte divide the total loss in bits by the UTF-8 bytes of the predicted text.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from megatron_sc2.data.repo_context import FileRef, RepoFormat
from megatron_sc2.data.special_tokens import FILE_SEP, REPO_NAME
from megatron_sc2.progress import Progress


def _indexed_tokens(prefix: str) -> Iterator[np.ndarray]:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    if not Path(prefix + ".idx").is_file() or not Path(prefix + ".bin").is_file():
        raise ValueError(f"--perplexity-data {prefix}: no {prefix}.bin/.idx (give the prefix, without the suffix)")
    dataset = IndexedDataset(prefix)
    for i in range(len(dataset)):
        yield np.asarray(dataset[i], dtype=np.int64)


def _repository_tokens(path: Path, tokenizer, seed: int) -> Iterator[np.ndarray]:
    repos: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with open(path, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                repos[record["repo_name"]].append((record["path"], record["content"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                raise ValueError(f"--perplexity-data {path}:{number}: expected a JSON object with "
                                 "repo_name, path and content") from None
    fmt = RepoFormat(tokenizer.token_id(REPO_NAME), tokenizer.token_id(FILE_SEP), tokenizer.eod, seed)
    for repo in sorted(repos):
        contents = {}
        files = []
        for offset, (file_path, content) in enumerate(repos[repo]):
            ref = FileRef(file_path, offset, len(content.encode("utf-8")), offset)
            contents[ref] = content
            files.append(ref)
        for parts in fmt.documents(repo, files, contents.__getitem__):
            ids = [t for p in parts for t in (tokenizer.encode(p, special_tokens=False) if isinstance(p, str) else [p])]
            yield np.asarray(ids, dtype=np.int64)


def windows(documents: Iterator[np.ndarray], seq_length: int, max_tokens: int) -> list[np.ndarray]:
    """Non-overlapping windows of seq_length + 1 tokens over the concatenated documents."""
    buffer, out, total = [], [], 0
    for tokens in documents:
        buffer.append(tokens)
        total += len(tokens)
        if total >= max_tokens + 1:
            break
    stream = np.concatenate(buffer)[: max_tokens + 1] if buffer else np.zeros(0, dtype=np.int64)
    for start in range(0, len(stream) - seq_length, seq_length):
        out.append(stream[start:start + seq_length + 1])
    if not out:
        raise ValueError(f"--perplexity-data holds {len(stream)} tokens: too few for one window of "
                         f"--seq-length {seq_length} (lower it)")
    return out


def _summed_loss(model, batch: torch.Tensor, chunk: int = 1024) -> float:
    """Total next-token loss of the batch's windows; logits are made `chunk` positions at a time,
    since at 16k tokens a full vocab of fp32 logits per window would take gigabytes."""
    hidden = model.get_decoder()(input_ids=batch[:, :-1]).last_hidden_state
    head, targets, total = model.get_output_embeddings(), batch[:, 1:], 0.0
    for start in range(0, targets.shape[1], chunk):
        logits = head(hidden[:, start:start + chunk]).float()
        total += float(torch.nn.functional.cross_entropy(logits.flatten(0, 1), targets[:, start:start + chunk].flatten(),
                                                         reduction="sum"))
    return total


@torch.inference_mode()
def perplexity(generator, data: str, seq_length: int, max_tokens: int, batch_size: int, seed: int = 0,
               progress: bool = True) -> dict:
    from megatron_sc2.data.tokenizer import HuggingFaceTokenizer

    tokenizer = HuggingFaceTokenizer(generator.tokenizer.name_or_path)
    documents = (_repository_tokens(Path(data), tokenizer, seed) if data.endswith(".jsonl")
                 else _indexed_tokens(data))
    chunks = windows(documents, seq_length, max_tokens)
    nats, tokens, num_bytes = 0.0, 0, 0
    with Progress(len(chunks), "perplexity", progress, unit="window") as bar:
        for first in range(0, len(chunks), batch_size):
            batch = torch.as_tensor(np.stack(chunks[first:first + batch_size]), device=generator.device)
            nats += _summed_loss(generator.model, batch)
            tokens += batch[:, 1:].numel()
            num_bytes += sum(len(tokenizer.decode(row.tolist()).encode("utf-8")) for row in batch[:, 1:].cpu())
            bar.advance(len(batch))
    loss = nats / tokens
    return {"loss": loss, "perplexity": math.exp(loss), "bits_per_byte": nats / math.log(2) / num_bytes,
            "tokens": tokens, "bytes": num_bytes, "seq_length": seq_length, "data": data}
