"""StarCoder2 repository context (reference/starcoder2.md §4.1): one document per repository.

    with metadata (probability 0.5): <repo_name>name<file_sep>path1\ncode1<file_sep>path2\ncode2...<|endoftext|>
    without:                         <file_sep>code1<file_sep>code2...<|endoftext|>

Files of a repository may be anywhere in the input, so grouping goes through disk in bounded
memory: pass 1 appends every file to one of up to `MAX_BUCKETS` bucket files chosen by a 64-bit
hash of its repository name; pass 2 takes one bucket at a time, keeps only an index of it in
memory (repository -> file offsets, a few dozen bytes per file) and reads back one repository at a
time. Memory is therefore one bucket's index plus one repository, whatever the corpus size.

Everything random is drawn from a generator seeded by (seed, repository hash), so the output does
not depend on input order, bucket count or partitioning: files are sorted by (path, content), then
shuffled; the metadata coin is drawn once per repository. Repositories come out ordered by
(hash, name), which makes contiguous hash ranges (`partitions.repo_hash_range`) merge back into
exactly the single-run output.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METADATA_PROBABILITY = 0.5
MAX_BUCKETS = 256
BUCKET_BYTES = 64 * 2**20  # of input on disk per bucket, until MAX_BUCKETS is reached
_HEADER = struct.Struct("<QIII")  # repository hash, then the byte lengths of repository, path, content

Part = str | int  # text to encode, or a special token id


def repo_hash(repo: str) -> int:
    return int.from_bytes(hashlib.blake2b(repo.encode("utf-8"), digest_size=8).digest(), "little")


@dataclass(frozen=True)
class RepoFormat:
    repo_name_id: int
    file_sep_id: int
    eod_id: int
    seed: int
    max_document_bytes: int | None = None

    def documents(self, repo: str, files: list[tuple[str, str]]) -> Iterator[list[Part]]:
        """The document(s) of one repository: several only if it exceeds max_document_bytes."""
        rng = np.random.default_rng([self.seed, repo_hash(repo)])
        with_metadata = rng.random() < METADATA_PROBABILITY
        files = sorted(files)
        files = [files[i] for i in rng.permutation(len(files))]
        header: list[Part] = [self.repo_name_id, repo] if with_metadata else []
        parts, size = list(header), 0
        for path, content in files:
            text = f"{path}\n{content}" if with_metadata else content
            text_size = len(text.encode("utf-8"))
            if self.max_document_bytes and size and size + text_size > self.max_document_bytes:
                yield parts + [self.eod_id]
                parts, size = list(header), 0
            parts += [self.file_sep_id, text]
            size += text_size
        yield parts + [self.eod_id]


class RepoSpill:
    """Files bucketed on disk by repository hash, read back grouped by repository."""

    def __init__(self, directory: Path, input_bytes: int, hash_range: tuple[int, int]):
        self.lo, self.hi = hash_range
        self.num_buckets = max(1, min(MAX_BUCKETS, math.ceil(input_bytes / BUCKET_BYTES)))
        directory.mkdir(parents=True, exist_ok=True)
        self.paths = [directory / f"bucket-{i:03d}.bin" for i in range(self.num_buckets)]
        self._files = [open(path, "wb") for path in self.paths]  # noqa: SIM115 (closed by close())
        self.bytes = 0

    def owns(self, repo_key: int) -> bool:
        return self.lo <= repo_key < self.hi

    def add(self, repo_key: int, repo: str, path: str, content: str) -> None:
        fields = [s.encode("utf-8") for s in (repo, path, content)]
        bucket = (repo_key - self.lo) * self.num_buckets // (self.hi - self.lo)
        out = self._files[bucket]
        out.write(_HEADER.pack(repo_key, *map(len, fields)))
        for data in fields:
            out.write(data)
        self.bytes += _HEADER.size + sum(map(len, fields))

    def close(self) -> None:
        for out in self._files:
            out.close()

    def repositories(self) -> Iterator[tuple[str, list[tuple[str, str]], int]]:
        """(repository, [(path, content)], spill bytes read so far), ordered by (hash, name)."""
        self.close()
        done = 0
        for path in self.paths:
            with open(path, "rb") as bucket:
                index = _index(bucket)
                for (_, repo), offsets in sorted(index.items()):
                    files = []
                    for offset in offsets:
                        path_and_content, size = _read_file(bucket, offset)
                        files.append(path_and_content)
                        done += size
                    yield repo, files, done
            path.unlink()


def _index(bucket) -> dict[tuple[int, str], list[int]]:
    index: dict[tuple[int, str], list[int]] = defaultdict(list)
    while header := bucket.read(_HEADER.size):
        repo_key, repo_len, path_len, content_len = _HEADER.unpack(header)
        offset = bucket.tell() - _HEADER.size
        index[repo_key, bucket.read(repo_len).decode("utf-8")].append(offset)
        bucket.seek(path_len + content_len, 1)
    return index


def _read_file(bucket, offset: int) -> tuple[tuple[str, str], int]:
    """(path, content) of the file spilled at `offset`, and its size in the spill."""
    bucket.seek(offset)
    _, repo_len, path_len, content_len = _HEADER.unpack(bucket.read(_HEADER.size))
    bucket.seek(repo_len, 1)
    path, content = bucket.read(path_len).decode("utf-8"), bucket.read(content_len).decode("utf-8")
    return (path, content), _HEADER.size + repo_len + path_len + content_len
