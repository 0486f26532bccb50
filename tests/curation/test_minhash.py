import xxhash
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashDedupBuckets, MinhashDedupFilter, MinhashDedupSignature
from near_duplicates import planted_pairs

from megatron_sc2.curation.minhash import (
    STARCODER2_MINHASH,
    ClusterKeyWriter,
    RankedMinhashCluster,
    StarCoder2MinhashSignature,
    starcoder2_ngrams,
)
from megatron_sc2.curation.records import SCHEMAS

SCHEMA = SCHEMAS["default"]


def test_shingles_are_xxh32_of_lowercased_nonword_split_5grams():
    text = "def Foo(a, b):\n    return a+b  # Sum"
    tokens = __import__("re").split(r"\W", text.lower())
    expected = {xxhash.xxh32_intdigest(" ".join(tokens[i : i + 5]).encode()) for i in range(len(tokens) - 4)}
    shingles = StarCoder2MinhashSignature("unused").get_shingles(text)
    assert "" in tokens and set(shingles.ravel().tolist()) == expected
    assert starcoder2_ngrams("a b c d") == set()  # fewer than 5 tokens: no signature, never deduplicated


def test_signature_equals_datatrove_reference(stdlib_sources):
    block = StarCoder2MinhashSignature("unused")
    for text in stdlib_sources[:5]:
        shingles = block.get_shingles(text)
        ours = block.get_signature(shingles)
        assert ours == MinhashDedupSignature.get_signature(block, shingles)
        assert len(ours) == 25 and all(len(band) == 10 for band in ours)


def _docs(texts, metas=None):
    return [Document(text=t, id=str(i), metadata=(metas[i] if metas else {})) for i, t in enumerate(texts)]


def _dedup(tmp_path, texts, metas=None) -> list[int]:
    """Runs the real datatrove stages (signatures, 25 band tasks, ranked clusters, filter); returns kept indices."""
    tmp_path = str(tmp_path)
    docs = _docs(texts, metas)
    keys = ClusterKeyWriter(tmp_path, SCHEMA)
    StarCoder2MinhashSignature(f"{tmp_path}/sigs").run(keys.run(iter(docs)))
    for band in range(STARCODER2_MINHASH.num_buckets):
        MinhashDedupBuckets(f"{tmp_path}/sigs", f"{tmp_path}/dups", config=STARCODER2_MINHASH).run(
            rank=band, world_size=STARCODER2_MINHASH.num_buckets
        )
    RankedMinhashCluster(f"{tmp_path}/dups", tmp_path, f"{tmp_path}/remove").run()
    kept = MinhashDedupFilter(f"{tmp_path}/remove").run(iter(_docs(texts, metas)))
    return [int(d.id) for d in kept]


def test_planted_near_duplicates_recall_and_false_merges(tmp_path, stdlib_sources):
    pairs = planted_pairs(stdlib_sources, n_pairs=300)
    texts = [t for original, copy, _ in pairs for t in (original, copy)]
    kept = set(_dedup(tmp_path, texts))
    merged = [not (2 * i in kept and 2 * i + 1 in kept) for i in range(len(pairs))]
    high = [m for m, (_, _, j) in zip(merged, pairs) if j >= 0.85]
    low = [m for m, (_, _, j) in zip(merged, pairs) if j <= 0.5]
    assert len(high) >= 100 and len(low) >= 60
    recall, false_merge = sum(high) / len(high), sum(low) / len(low)
    print(f"pairs J>=0.85: {len(high)}, recall {recall:.3f}; pairs J<=0.5: {len(low)}, merged {false_merge:.3f}")
    assert recall >= 0.95
    assert false_merge <= 0.01
    assert len(kept) >= len(texts) - len(pairs)  # at most one file per pair removed


def test_cluster_keeps_best_ranked_file(tmp_path, stdlib_sources):
    text = "\n".join(stdlib_sources[0].splitlines()[:80])
    metas = [
        {"license_type": "no_license", "stars": 900, "forks": 50, "revision_date": "2023-05-01"},
        {"license_type": "permissive", "stars": 3, "forks": 0, "revision_date": "2021-01-01"},
        {"license_type": "permissive", "stars": 3, "forks": 0, "revision_date": "2022-06-30T10:00:00Z"},
        {"license_type": "permissive", "stars": 2, "forks": 70, "revision_date": "2023-01-01"},
    ]
    texts = [text + f"\n# copy {i}" for i in range(len(metas))]
    # permissive beats stars; then stars; then forks; then the later revision date
    assert _dedup(tmp_path, texts, metas) == [2]


def test_unrelated_files_all_kept(tmp_path, stdlib_sources):
    assert _dedup(tmp_path, stdlib_sources[:5]) == list(range(5))
