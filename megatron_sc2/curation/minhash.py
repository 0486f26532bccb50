"""StarCoder2 near-deduplication (paper §3.1, bigcode-dataset `near_deduplication`) on datatrove's MinHash blocks.

datatrove's four stages (signatures -> LSH buckets -> clusters -> filter) run the same algorithm; what StarCoder2
fixes differently, and where it lives here:

- parameters: 5-grams, xxh32 n-gram hashes, 250 permutations as 25 bands x 10 rows (threshold ~0.7) are plain
  `MinhashConfig` values (`STARCODER2_MINHASH`);
- tokens: StarCoder2 splits the lower-cased text on every `\\W` character (keeping the empty strings). datatrove
  takes a `WordTokenizer` and a `TextNormConfig`: `CodeWordTokenizer` and lower-casing only reproduce it exactly.
  `StarCoder2MinhashSignature` only makes the same shingles and signatures faster (distinct n-grams first,
  cache-sized blocks computed in place);
- which file survives: datatrove keeps an arbitrary member of each cluster; StarCoder2 keeps the best by license,
  stars, forks and dates. `ClusterKeyWriter` records those keys beside the signatures and `RankedMinhashCluster`
  replaces `MinhashDedupCluster`, writing the same `.remove` files for datatrove's `MinhashDedupFilter`.
"""

import re
import struct
from datetime import date, datetime

import numpy as np
import xxhash
from datatrove.data import DocumentsPipeline
from datatrove.io import DataFolderLike, get_datafolder
from datatrove.pipeline.base import PipelineStep
from datatrove.pipeline.dedup.minhash import SENTINEL, MinhashConfig, MinhashDedupSignature
from datatrove.utils.binaryio import read_tuples_from_file
from datatrove.utils.hashing import HashConfig
from datatrove.utils.text import TextNormConfig
from datatrove.utils.word_tokenizers import WordTokenizer

from megatron_sc2.curation.records import Schema

STARCODER2_MINHASH = MinhashConfig(
    n_grams=5,
    num_buckets=25,
    hashes_per_bucket=10,
    seed=42,
    norm_config=TextNormConfig(
        lowercase=True, norm_whitespace=False, remove_punctuation=False, norm_unicode_diacritics=False,
        norm_numbers=False,
    ),
    hash_config=HashConfig(precision=32, hash_fc="xxhash"),
)
_NON_WORD = re.compile(r"\W")
_MERSENNE_61 = np.uint64((1 << 61) - 1)  # datatrove's permutation modulus
_ROWS_PER_BLOCK = 256


class CodeWordTokenizer(WordTokenizer):
    """StarCoder2's tokens: the text split on every non-word character, empty strings included."""

    def word_tokenize(self, text: str) -> list[str]:
        return _NON_WORD.split(text)

    def sent_tokenize(self, text: str) -> list[str]:
        return text.splitlines()

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        raise NotImplementedError("MinHash only needs word_tokenize")


def starcoder2_ngrams(text: str, n: int = 5) -> set[str]:
    """The distinct space-joined n-grams StarCoder2 hashes; none for a text of fewer than n tokens."""
    tokens = _NON_WORD.split(text.lower())
    return {" ".join(gram) for gram in zip(*(tokens[i:] for i in range(n)))}


class StarCoder2MinhashSignature(MinhashDedupSignature):
    """datatrove's signature stage with StarCoder2's tokenization; signatures are bit-identical to datatrove's
    `get_signature` for the same shingles."""

    name = "🎯 MinHash signatures (StarCoder2)"

    def __init__(self, output_folder: DataFolderLike, config: MinhashConfig = STARCODER2_MINHASH):
        super().__init__(output_folder, config=config, language=CodeWordTokenizer())

    def get_shingles(self, text: str) -> np.ndarray:
        # xxh32 of the UTF-8 bytes, as bigcode does (datatrove passes `str`, which xxhash >= 4 refuses)
        grams = starcoder2_ngrams(text, self.config.n_grams)
        hashes = (xxhash.xxh32_intdigest(gram.encode()) for gram in grams)
        return np.fromiter(hashes, dtype=np.uint64, count=len(grams)).reshape(-1, 1)

    def get_signature(self, shingles: np.ndarray) -> list[list[int]]:
        # datatrove's arithmetic, in blocks of rows that stay in cache and reuse one buffer (no large temporaries)
        a, b = self.parameters
        signature = np.full(self.num_hashes, np.iinfo(np.uint64).max, dtype=np.uint64)
        block = np.empty((min(len(shingles), _ROWS_PER_BLOCK), self.num_hashes), dtype=np.uint64)
        for start in range(0, len(shingles), _ROWS_PER_BLOCK):
            rows = shingles[start : start + _ROWS_PER_BLOCK]
            permuted = block[: len(rows)]
            np.multiply(rows, a, out=permuted)
            np.add(permuted, b, out=permuted)
            np.remainder(permuted, _MERSENNE_61, out=permuted)
            if self.config.hash_config.precision == 32:
                np.bitwise_and(permuted, np.uint64(self.config.hash_config.max), out=permuted)
            np.minimum(signature, permuted.min(axis=0), out=signature)
        signature = signature.astype(self.config.hash_config.np_dtype)
        return [bucket.tolist() for bucket in np.split(signature, self.config.num_buckets)]


# Which file of a near-duplicate cluster is kept: the largest key wins, compared field by field.
LICENSE_RANK = {"permissive": 2, "no_license": 1}
CLUSTER_KEY = np.dtype([("license", "<i8"), ("stars", "<i8"), ("forks", "<i8"), ("revision", "<i8"), ("visit", "<i8")])


def _timestamp(value) -> int:
    """Seconds since the epoch of an ISO string, a date/datetime (Parquet) or a number; 0 when unreadable."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return 0
    if isinstance(value, datetime):
        return int(value.timestamp())
    if isinstance(value, date):
        return int(datetime(value.year, value.month, value.day).timestamp())
    return int(value or 0)


def cluster_key(metadata: dict, schema: Schema) -> tuple[int, ...]:
    """(license rank, stars, forks, revision date, visit date) of a record; missing fields rank lowest."""
    return (
        LICENSE_RANK.get(str(metadata.get(schema.license) or "").lower(), 0),
        int(metadata.get(schema.stars) or 0),
        int(metadata.get(schema.forks) or 0),
        _timestamp(metadata.get(schema.revision_date)),
        _timestamp(metadata.get(schema.visit_date)),
    )


class ClusterKeyWriter(PipelineStep):
    """Passes documents through, writing each one's cluster key to `keys/<rank>.keys` in document order.

    Placed right before the signature step, so record i of the file is the document datatrove calls doc i."""

    type = "🫂 - DEDUP"
    name = "🏷 Cluster keys"

    def __init__(self, output_folder: DataFolderLike, schema: Schema):
        super().__init__()
        self.output_folder = get_datafolder(output_folder)
        self.schema = schema

    def run(self, data: DocumentsPipeline, rank: int = 0, world_size: int = 1) -> DocumentsPipeline:
        with self.output_folder.open(f"keys/{rank:05d}.keys", mode="wb") as out:
            for doc in data:
                out.write(np.array(cluster_key(doc.metadata, self.schema), dtype="<i8").tobytes())
                yield doc


class RankedMinhashCluster(PipelineStep):
    """Connected components of the LSH duplicate pairs; in each, every file but the best-ranked is removed.

    Reads datatrove's `.dups` files and writes its `<rank>.remove` files, so `MinhashDedupFilter` applies them."""

    type = "🫂 - DEDUP"
    name = "🎯 MinHash clusters (ranked)"

    def __init__(self, dups_folder: DataFolderLike, keys_folder: DataFolderLike, output_folder: DataFolderLike):
        super().__init__()
        self.dups_folder = get_datafolder(dups_folder)
        self.keys_folder = get_datafolder(keys_folder)
        self.output_folder = get_datafolder(output_folder)

    def _union_find(self) -> dict[tuple[int, int], tuple[int, int]]:
        parent: dict[tuple[int, int], tuple[int, int]] = {}

        def find(x):
            root = x
            while parent.setdefault(root, root) != root:
                root = parent[root]
            while parent[x] != root:
                parent[x], x = root, parent[x]
            return root

        for dup_file in self.dups_folder.list_files(glob_pattern="*.dups"):
            with self.dups_folder.open(dup_file, "rb") as f:
                for f1, d1, f2, d2 in read_tuples_from_file(f, "4I", lines_to_buffer=1000):
                    if f1 == SENTINEL:  # a match against an external index: not a pair within this corpus
                        continue
                    ra, rb = find((f1, d1)), find((f2, d2))
                    if ra != rb:
                        parent[max(ra, rb)] = min(ra, rb)
        return {node: find(node) for node in parent}

    def _cluster_keys(self, nodes) -> dict[tuple[int, int], tuple[int, ...]]:
        """The keys of the given (rank, doc) nodes, reading one rank's key file at a time."""
        by_rank: dict[int, list[int]] = {}
        for file_rank, doc in nodes:
            by_rank.setdefault(file_rank, []).append(doc)
        keys = {}
        for file_rank, docs in by_rank.items():
            with self.keys_folder.open(f"keys/{file_rank:05d}.keys", "rb") as f:
                table = np.frombuffer(f.read(), dtype=CLUSTER_KEY)
            keys.update({(file_rank, doc): tuple(table[doc].tolist()) for doc in docs})
        return keys

    def run(self, data: DocumentsPipeline = None, rank: int = 0, world_size: int = 1):
        if world_size != 1:
            raise ValueError("RankedMinhashCluster runs as a single task")
        with self.track_time():
            roots = self._union_find()
            keys = self._cluster_keys(roots)
            best: dict[tuple[int, int], tuple[int, int]] = {}
            for node, root in roots.items():
                # the larger key wins; on a tie the earlier (rank, doc), so the choice is deterministic
                if root not in best or (keys[node], best[root]) > (keys[best[root]], node):
                    best[root] = node
            keep = set(best.values())
            removed = sorted(node for node in roots if node not in keep)
            with self.output_folder.get_output_file_manager(mode="wb") as out:
                for file_rank, doc in removed:
                    out.write(f"{file_rank:06d}.remove", struct.pack("<I", doc))
            self.stat_update("clusters", value=len(best))
            self.stat_update("near_duplicates", value=len(removed))
