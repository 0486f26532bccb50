"""Splitting one preprocessing job over many nodes so that the merged result equals a single run.

Plain documents: partition i of n takes a contiguous run of the (sorted) input files, balanced by
size, so concatenating partitions 0..n-1 gives the single-run order. Repository context: files of
one repository may sit in any input file, so partition i keeps the repositories whose hash falls in
its contiguous slice of the 64-bit hash space, routed to it by the readers of all input slices (see
repo_routing); repositories are written in hash order, so again the concatenation is the single-run
output.
"""

from __future__ import annotations

HASH_SPACE = 2**64


def file_range(sizes: list[int], index: int, count: int) -> range:
    """Indices of the files partition `index` of `count` processes: each file goes to the share of
    the total size its midpoint falls in, which keeps partitions contiguous and balanced."""
    total = max(sum(sizes), 1)
    owner, running = [], 0
    for size in sizes:
        owner.append(min(count - 1, (2 * running + size) * count // (2 * total)))
        running += size
    first = next((i for i, o in enumerate(owner) if o >= index), len(sizes))
    last = next((i for i, o in enumerate(owner) if o > index), len(sizes))
    return range(first, last)


def repo_hash_range(index: int, count: int) -> tuple[int, int]:
    """The slice [lo, hi) of repository hashes partition `index` of `count` keeps."""
    return index * HASH_SPACE // count, (index + 1) * HASH_SPACE // count
