"""Curation throughput in documents per CPU-second (= docs/s per core), on standard-library sources.

- MinHash alone: StarCoder2 shingling + 250-permutation signature with our datatrove block, against the same
  shingles through datatrove's stock `get_signature`, and against datasketch `MinHash(num_perm=250)` fed the same
  distinct 5-grams (its "legacy" scheme is the bigcode/datatrove arithmetic; its default "affine32" is cheaper);
  ratios printed.
- go-enry classification alone (`GoEnryClassifier` computing language, is_generated and the path flags, as for
  records without The Stack v2's columns), in files/s per core, and its share of the whole pipeline.
- Whole pipeline: `tools/curate.py` with one worker, from raw JSONL to clean JSONL (all stages, all I/O), records
  without `language`/`is_generated`, so go-enry runs on every file.

    python benchmarks/curate.py [--docs 2000]
"""

import argparse
import json
import os
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from datasketch import MinHash
from datatrove.data import Document
from datatrove.pipeline.dedup.minhash import MinhashDedupSignature

from megatron_sc2.curation.cli import main as curate
from megatron_sc2.curation.detection import GoEnryClassifier
from megatron_sc2.curation.minhash import StarCoder2MinhashSignature, starcoder2_ngrams
from megatron_sc2.curation.records import SCHEMAS


def documents(n: int) -> list[str]:
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = [p.read_text(errors="ignore") for p in sorted(root.rglob("*.py")) if "site-packages" not in str(p)]
    texts = [t for t in texts if 500 < len(t) < 100_000]
    return (texts * (n // len(texts) + 1))[:n]


def rate(fn, docs) -> float:
    """Documents per CPU-second of this process: per-core throughput, robust to other load on the machine."""
    start = time.process_time()
    for doc in docs:
        fn(doc)
    return len(docs) / (time.process_time() - start)


def bench_minhash(docs) -> dict[str, float]:
    """docs/s of shingling + signature: ours, stock datatrove arithmetic, datasketch (both permutation schemes)."""
    block = StarCoder2MinhashSignature(tempfile.mkdtemp())

    def ours(text):
        block.get_signature(block.get_shingles(text))

    def datatrove_stock(text):
        MinhashDedupSignature.get_signature(block, block.get_shingles(text))

    def datasketch(scheme):
        def run(text):
            MinHash(num_perm=250, seed=42, scheme=scheme).update_batch([g.encode() for g in starcoder2_ngrams(text)])

        return run

    return {
        "ours": rate(ours, docs),
        "datatrove get_signature": rate(datatrove_stock, docs),
        "datasketch legacy (same math)": rate(datasketch("legacy"), docs),
        "datasketch affine32 (default)": rate(datasketch("affine32"), docs),
    }


def bench_enry(docs) -> float:
    block = GoEnryClassifier(SCHEMAS["default"])
    return rate(lambda item: block.filter(Document(text=item[1], id="x", metadata={"path": item[0]})),
                [(f"pkg/m{i}.py", text) for i, text in enumerate(docs)])


def bench_pipeline(docs) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp, "raw")
        raw.mkdir()
        with open(raw / "part.jsonl", "w") as f:
            f.writelines(json.dumps({"id": str(i), "content": text, "path": f"m{i}.py", "repository": f"r/{i % 50}",
                                    "license_type": "permissive", "stars": i}) + "\n" for i, text in enumerate(docs))
        start = time.process_time()  # one worker runs every task in this process
        with open(os.devnull, "w") as devnull:
            stderr, sys.stderr = sys.stderr, devnull
            try:
                assert curate(["--input", str(raw), "--output", str(Path(tmp, "out")), "--workers", "1",
                               "--skip", "malware"]) == 0
            finally:
                sys.stderr = stderr
        return len(docs) / (time.process_time() - start)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--docs", type=int, default=2000)
    args = parser.parse_args()
    docs = documents(args.docs)
    mb = sum(map(len, docs)) / 1e6
    print(f"{len(docs)} documents, {mb:.1f} MB of Python (mean {1e6 * mb / len(docs) / 1e3:.1f} kB), 1 core")
    rates = bench_minhash(docs)
    for name, value in rates.items():
        ratio = "" if name == "ours" else f"   ours/this {rates['ours'] / value:.2f}x"
        print(f"MinHash {name:31s} {value:8.1f} docs/s{ratio}")
    enry = bench_enry(docs)
    whole = bench_pipeline(docs)
    print(f"go-enry classification                       {enry:8.1f} docs/s/core ({enry * mb / len(docs):.2f} MB/s)")
    print(f"whole pipeline (tools/curate.py, 1 worker)   {whole:8.1f} docs/s/core ({whole * mb / len(docs):.2f} MB/s)")
    print(f"go-enry share of the pipeline's CPU time     {100 * whole / enry:8.1f} %")
