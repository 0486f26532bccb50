"""StarCoder2 repository context (docs/starcoder2.md): one document per repository.

    with metadata (probability 0.5): <repo_name>name<file_sep>path1\ncode1<file_sep>path2\ncode2...<|endoftext|>
    without:                         <file_sep>code1<file_sep>code2...<|endoftext|>

Files of a repository may be anywhere in the input, so grouping goes through disk in bounded
memory: pass 1 appends every file to one of up to `MAX_BUCKETS` bucket files chosen by a 64-bit
hash of its repository name; pass 2 takes one bucket at a time, keeps only an index of it in
memory (repository -> paths, sizes and offsets of its files, no contents) and reads contents back
one document at a time. Memory is therefore one bucket's index plus one document, whatever the size
of the corpus or of its largest repository.

Everything random is drawn from a generator seeded by (seed, repository hash), so the output does
not depend on input order, bucket count or partitioning: files are sorted by (path, content digest), then
shuffled; the metadata coin is drawn once per repository. Repositories come out ordered by
(hash, name), which makes contiguous hash ranges (`partitions.repo_hash_range`) merge back into
exactly the single-run output.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

METADATA_PROBABILITY = 0.5
MAX_BUCKETS = 256
BUCKET_BYTES = 64 * 2**20  # of input on disk per bucket, until MAX_BUCKETS is reached
# repository hash, content digest, then the byte lengths of repository, path and content
_HEADER = struct.Struct("<QQIII")

Part = str | int  # text to encode, or a special token id


def _digest(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "little")


def repo_hash(repo: str) -> int:
    return _digest(repo.encode("utf-8"))


@dataclass(frozen=True, order=True)
class FileRef:
    """A spilled file, without its content: what ordering and document splitting need."""

    path: str
    digest: int  # of the content: orders files with equal paths independently of input order
    size: int  # content bytes
    offset: int  # of its record in the bucket file


@dataclass(frozen=True)
class RepoFormat:
    repo_name_id: int
    file_sep_id: int
    eod_id: int
    seed: int
    max_document_bytes: int | None = None

    def documents(
        self, repo: str, files: list[FileRef], content: Callable[[FileRef], str]
    ) -> Iterator[list[Part]]:
        """The document(s) of one repository: several only if it exceeds max_document_bytes.
        Contents are read one document at a time."""
        rng = np.random.default_rng([self.seed, repo_hash(repo)])
        with_metadata = rng.random() < METADATA_PROBABILITY
        files = sorted(files)
        header: list[Part] = [self.repo_name_id, repo] if with_metadata else []
        parts, size = list(header), 0
        for i in rng.permutation(len(files)):
            file = files[i]
            text_size = len(file.path.encode("utf-8")) + 1 + file.size if with_metadata else file.size
            if self.max_document_bytes and size and size + text_size > self.max_document_bytes:
                yield parts + [self.eod_id]
                parts, size = list(header), 0
            parts += [self.file_sep_id, f"{file.path}\n{content(file)}" if with_metadata else content(file)]
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
        out.write(_HEADER.pack(repo_key, _digest(fields[2]), *map(len, fields)))
        for data in fields:
            out.write(data)
        self.bytes += _HEADER.size + sum(map(len, fields))

    def close(self) -> None:
        for out in self._files:
            out.close()

    def repositories(self) -> Iterator[tuple[str, list[FileRef], Callable[[FileRef], str], int]]:
        """(repository, its files, a reader of their contents, spill bytes done), by (hash, name).

        The reader is valid until the next repository is yielded."""
        self.close()
        done = 0
        for path in self.paths:
            with open(path, "rb") as bucket:

                def content(file: FileRef, bucket=bucket) -> str:
                    bucket.seek(file.offset)
                    _, _, repo_len, path_len, size = _HEADER.unpack(bucket.read(_HEADER.size))
                    bucket.seek(repo_len + path_len, 1)
                    return bucket.read(size).decode("utf-8")

                for (_, repo), files in sorted(_index(bucket).items()):
                    done += sum(
                        _HEADER.size + len(repo.encode()) + len(f.path.encode()) + f.size for f in files
                    )
                    yield repo, files, content, done
            path.unlink()


def _index(bucket) -> dict[tuple[int, str], list[FileRef]]:
    """(repository hash, repository) -> its files, reading every record but no content."""
    index: dict[tuple[int, str], list[FileRef]] = defaultdict(list)
    while header := bucket.read(_HEADER.size):
        repo_key, digest, repo_len, path_len, size = _HEADER.unpack(header)
        offset = bucket.tell() - _HEADER.size
        repo = bucket.read(repo_len).decode("utf-8")
        index[repo_key, repo].append(FileRef(bucket.read(path_len).decode("utf-8"), digest, size, offset))
        bucket.seek(size, 1)
    return index
