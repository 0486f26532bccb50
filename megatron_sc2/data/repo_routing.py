"""Repository context over many nodes in two passes, so that each input file is read once.

Files of one repository may sit in any input file. Pass 1: reader r of n reads only its slice of the
input files (partitions.file_range) and appends each file to route file p of n, p being the partition
whose slice of repository hashes (partitions.repo_hash_range) holds the file's repository; a reader's
route files are renamed into `{route_dir}/reader-{r}/` only when whole. Pass 2: partition p reads route
file p of every reader and groups and tokenizes it as a single run does (repo_context), so the
partitions, merged in order, are the single run's bytes.
"""

from __future__ import annotations

import bisect
import struct
from collections.abc import Iterator
from pathlib import Path

from megatron_sc2.data.partitions import repo_hash_range

_HEADER = struct.Struct("<III")  # byte lengths of repository, path and content


def reader_folder(route_dir: Path, reader: int) -> Path:
    return route_dir / f"reader-{reader:05d}"


def route_file(folder: Path, partition: int) -> Path:
    return folder / f"part-{partition:05d}.bin"


class Router:
    """Route files of one reader, one per partition, written in `folder`."""

    def __init__(self, folder: Path, partitions: int):
        folder.mkdir()
        self.starts = [repo_hash_range(p, partitions)[0] for p in range(1, partitions)]
        self.files = [open(route_file(folder, p), "wb") for p in range(partitions)]  # noqa: SIM115

    def add(self, repo_key: int, repo: str, path: str, content: str) -> None:
        fields = [s.encode("utf-8") for s in (repo, path, content)]
        out = self.files[bisect.bisect_right(self.starts, repo_key)]
        out.write(_HEADER.pack(*map(len, fields)))
        for data in fields:
            out.write(data)

    def close(self) -> None:
        for out in self.files:
            out.close()


def routed_paths(route_dir: Path, partition: int, partitions: int) -> list[Path]:
    """Route file `partition` of every reader; refuses a reader that has not finished."""
    paths = []
    for reader in range(partitions):
        path = route_file(reader_folder(route_dir, reader), partition)
        if not path.is_file():
            raise FileNotFoundError(
                f"--route-dir {route_dir}: reader {reader} of {partitions} has not finished (run it with "
                f"--route --partition-index {reader} --num-partitions {partitions} first)"
            )
        paths.append(path)
    return paths


def routed_files(paths: list[Path]) -> Iterator[tuple[str, str, str, int]]:
    """(repository, path, content, route bytes read so far) of every routed file."""
    done = 0
    for route in paths:
        with open(route, "rb") as data:
            while header := data.read(_HEADER.size):
                repo, path, content = (data.read(size).decode("utf-8") for size in _HEADER.unpack(header))
                yield repo, path, content, done + data.tell()
        done += route.stat().st_size
