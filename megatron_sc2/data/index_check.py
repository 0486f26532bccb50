"""A dataset's `.idx` checked against its `.bin` from a few bytes of the index, and the counts it holds.

megatron-core reads a `.bin` cut short only when a sample reaches the cut, and a merge would copy it
as it is; the header and the last entry of the index are enough to know the `.bin`'s exact length and
the dataset's documents and tokens, which a manifest can then be held to. No megatron-core import:
the mixture tool runs without torch.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# megatron-core's .idx: magic, then <Q version, <B dtype code, <Q sequences, <Q document bounds; then
# int32 lengths and int64 byte offsets per sequence, int64 document bounds.
INDEX_MAGIC = b"MMIDIDX\x00\x00"
_HEADER = struct.Struct("<QBQQ")
_HEADER_SIZE = len(INDEX_MAGIC) + _HEADER.size
# megatron-core's DType codes (megatron.core.datasets.indexed_dataset.DType)
DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32,
          8: np.uint16}  # fmt: skip


@dataclass(frozen=True)
class IndexCounts:
    sequences: int  # megatron-core's "documents": what GPTDataset samples from
    documents: int
    tokens: int
    dtype: type


def check_index(prefix: str) -> IndexCounts:
    """The counts of `prefix` once its .idx is whole and its .bin exactly as long as the index says;
    ValueError naming the file and the problem otherwise. Reads a few bytes of the .idx, none of the .bin."""
    idx, bin_ = Path(f"{prefix}.idx"), Path(f"{prefix}.bin")
    for path in (bin_, idx):
        if not path.is_file():
            raise ValueError(f"{path} does not exist")
    with idx.open("rb") as f:
        head = f.read(_HEADER_SIZE)
        if len(head) < _HEADER_SIZE or not head.startswith(INDEX_MAGIC):
            raise ValueError(f"{idx} is not a Megatron index (bad header)")
        version, code, sequences, bounds_count = _HEADER.unpack(head[len(INDEX_MAGIC) :])
        if version != 1 or code not in DTYPES or bounds_count < 1:
            raise ValueError(f"{idx} has an unknown version {version}, dtype code {code} or {bounds_count} "
                             "document bounds")
        itemsize = np.dtype(DTYPES[code]).itemsize
        lengths, pointers = _HEADER_SIZE, _HEADER_SIZE + 4 * sequences
        bounds = pointers + 8 * sequences
        expected = bounds + 8 * bounds_count
        if idx.stat().st_size != expected:
            raise ValueError(f"{idx} has {idx.stat().st_size} bytes, its header describes {expected} (truncated?)")
        end = 0
        if sequences:
            f.seek(lengths + 4 * (sequences - 1))
            (length,) = struct.unpack("<i", f.read(4))
            f.seek(pointers + 8 * (sequences - 1))
            (pointer,) = struct.unpack("<q", f.read(8))
            end = pointer + length * itemsize
        f.seek(bounds)
        (first,) = struct.unpack("<q", f.read(8))
        f.seek(expected - 8)
        (last,) = struct.unpack("<q", f.read(8))
    if (first, last) != (0, sequences):
        raise ValueError(f"{idx} has document bounds {first}..{last} for {sequences} sequences (corrupted)")
    size = bin_.stat().st_size
    if size != end:
        raise ValueError(f"{bin_} has {size} bytes but {idx} indexes {end} ({'truncated' if size < end else 'longer'}"
                         ": cut short, or .bin and .idx from different runs)")
    return IndexCounts(sequences, bounds_count - 1, end // itemsize, DTYPES[code])
