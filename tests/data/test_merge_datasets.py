"""Partitioned runs merged by tools/merge_datasets.py are byte-identical to one run over everything."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from tool_module import tool_module

from megatron_sc2.data.merge import dataset_prefixes, merge_datasets
from megatron_sc2.data.preprocess import PreprocessConfig, preprocess

PARTITIONS = 3


def merge_tool():
    return tool_module("merge_datasets.py")


def run(tokenizer_dir, shards, prefix, index=0, count=1, **options) -> str:
    config = PreprocessConfig(
        inputs=[str(shards)], output_prefix=str(prefix), tokenizer_type="HuggingFaceTokenizer",
        tokenizer_model=str(tokenizer_dir), append_eod=True, workers=2, partition_index=index,
        num_partitions=count, repo_key="repository", **options,
    )  # fmt: skip
    preprocess(config, log=lambda line: None)
    return f"{prefix}_content_document"


@pytest.mark.parametrize("repo_context", [False, True], ids=["plain", "repo-context"])
def test_merged_partitions_equal_a_single_run(tmp_path, shards, sc2_tokenizer_dir, repo_context):
    single = run(sc2_tokenizer_dir, shards, tmp_path / "single", repo_context=repo_context)
    options = {"repo_context": repo_context}
    if repo_context:  # pass 1: each partition routes its slice of the input, read once in all
        options["route_dir"] = str(tmp_path / "route")
        for i in range(PARTITIONS):
            run(sc2_tokenizer_dir, shards, tmp_path / "unused", i, PARTITIONS, route=True, **options)
        read = [json.loads((tmp_path / "route" / f"reader-{i:05d}" / "stats.json").read_text())["records_read"]
                for i in range(PARTITIONS)]
        assert sum(read) == sum(len(f.read_text().splitlines()) for f in shards.iterdir()) and min(read) > 0
    parts = [run(sc2_tokenizer_dir, shards, tmp_path / "parts" / f"p{i:03d}", i, PARTITIONS, **options)
             for i in range(PARTITIONS)]
    if repo_context:
        assert [json.loads((tmp_path / "parts" / f"p{i:03d}_stats.json").read_text())["records_read"]
                for i in range(PARTITIONS)] == [0] * PARTITIONS
    sizes = [Path(part + ".bin").stat().st_size for part in parts]
    assert sum(size > 0 for size in sizes) >= 2  # the work really was split

    merged = str(tmp_path / "merged_content_document")
    assert merge_tool().main(["--input", str(tmp_path / "parts"), "--output-prefix", merged]) == 0
    for suffix in (".bin", ".idx", ".tokenizer-id.json"):
        assert Path(merged + suffix).read_bytes() == Path(single + suffix).read_bytes()
    single_manifest, merged_manifest = (json.loads(Path(p + ".manifest.json").read_text()) for p in (single, merged))
    provenance = ("inputs", "command")
    assert {k: v for k, v in merged_manifest.items() if k not in provenance} == {
        k: v for k, v in single_manifest.items() if k not in provenance
    }
    assert merged_manifest["inputs"] == parts
    assert merged_manifest["command"][1:] == ["--input", str(tmp_path / "parts"), "--output-prefix", merged]
    if not repo_context:
        assert sum(v["tokens"] for v in single_manifest["by_language"].values()) == single_manifest["tokens"]
        assert set(single_manifest["by_language"]) == {"Python", "Cython", "(none)"}
        assert set(single_manifest["by_source"]) == {"code", "docs"}


def test_merge_refuses_datasets_of_different_tokenizers(tmp_path, shards, sc2_tokenizer_dir, caplog):
    from other_tokenizer import other_tokenizer

    from megatron_sc2.data.tokenizer import load_tokenizer

    other_dir = other_tokenizer(sc2_tokenizer_dir, tmp_path / "other")
    ours, theirs = (run(tokenizer, shards, tmp_path / name)
                    for tokenizer, name in ((sc2_tokenizer_dir, "ours"), (other_dir, "theirs")))
    a, b = (load_tokenizer("HuggingFaceTokenizer", d).identity[:12] for d in (sc2_tokenizer_dir, other_dir))
    assert merge_tool().main(["--input", ours, theirs, "--output-prefix", str(tmp_path / "merged")]) == 1
    assert caplog.messages[-1] == (
        f"error: datasets from different tokenizers: {ours} (tokenizer {a}, 2,048 tokens) and {theirs} "
        f"(tokenizer {b}, 2,048 tokens); merge the datasets of one tokenizer"
    )
    assert not list(tmp_path.glob("merged*"))


def test_globs_name_prefixes_or_their_files(tmp_path, shards, sc2_tokenizer_dir):
    """As the docs write it ('parts/stack_p*_content_document'), or matching the files beside the pair."""
    prefixes = [run(sc2_tokenizer_dir, shards, tmp_path / f"stack_p{i}", i, 2) for i in range(2)]
    assert dataset_prefixes([str(tmp_path / "stack_p*_content_document")]) == prefixes
    assert dataset_prefixes([str(tmp_path / "stack_p*")]) == prefixes  # not the records and stats beside them


def test_merge_keeps_the_given_order_and_rejects_mixed_dtypes(tmp_path):
    from megatron.core.datasets.indexed_dataset import IndexedDataset, IndexedDatasetBuilder

    def dataset(name, dtype, documents):
        builder = IndexedDatasetBuilder(str(tmp_path / f"{name}.bin"), dtype=dtype)
        for document in documents:
            builder.add_document(np.array(document), [len(document)])
        builder.finalize(str(tmp_path / f"{name}.idx"))
        return str(tmp_path / name)

    a = dataset("a", np.uint16, [[1, 2, 3], [4]])
    b = dataset("b", np.uint16, [[5, 6]])
    notices = []
    merge_datasets([b, a], str(tmp_path / "ba"), notices.append)
    assert notices[0] == ("2 of 2 dataset(s) have no tokenizer record (not written by "
                          f"tools/preprocess_data.py), e.g. {b}: {tmp_path / 'ba'} gets none")
    assert not (tmp_path / "ba.tokenizer-id.json").exists()
    merged = IndexedDataset(str(tmp_path / "ba"))
    assert [merged[i].tolist() for i in range(len(merged))] == [[5, 6], [1, 2, 3], [4]]

    wide = dataset("wide", np.int32, [[70000]])
    with pytest.raises(ValueError, match="different token dtypes"):
        merge_datasets([a, wide], str(tmp_path / "mixed"))
    assert not list(tmp_path.glob("mixed*"))
    assert (
        merge_tool().main(["--input", str(tmp_path / "missing"), "--output-prefix", str(tmp_path / "m")]) == 1
    )


def test_a_partition_waits_for_every_reader(tmp_path, shards, sc2_tokenizer_dir):
    options = {"repo_context": True, "route_dir": str(tmp_path / "route")}
    run(sc2_tokenizer_dir, shards, tmp_path / "unused", 0, PARTITIONS, route=True, **options)
    with pytest.raises(FileNotFoundError, match=f"reader 1 of {PARTITIONS} has not finished"):
        run(sc2_tokenizer_dir, shards, tmp_path / "p000", 0, PARTITIONS, **options)
    assert [p.name for p in tmp_path.glob("p000*")] == ["p000_stats.json"]  # only the failure's record
    assert not json.loads((tmp_path / "p000_stats.json").read_text())["complete"]
    assert sorted(p.name for p in (tmp_path / "route").iterdir()) == ["reader-00000"]


def test_repo_context_partitions_need_a_route_dir(tmp_path, shards, sc2_tokenizer_dir):
    with pytest.raises(ValueError, match="reads the input in two passes: run each partition with --route"):
        run(sc2_tokenizer_dir, shards, tmp_path / "p000", 0, PARTITIONS, repo_context=True)


def test_an_output_that_is_an_input_is_refused(tmp_path, shards, sc2_tokenizer_dir, caplog, monkeypatch):
    """Named by another path (relative here), the output would still replace the input's files."""
    a = run(sc2_tokenizer_dir, shards, tmp_path / "a", 0, 2)
    b = run(sc2_tokenizer_dir, shards, tmp_path / "b", 1, 2)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    monkeypatch.chdir(tmp_path)
    assert merge_tool().main(["--input", "a_content_document", b, "--output-prefix", a]) == 1
    assert caplog.messages[-1] == (f"error: --output-prefix {a} would overwrite the input a_content_document: "
                                   "choose another output prefix")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


def test_an_input_whose_bin_is_not_its_index_is_refused(tmp_path, shards, sc2_tokenizer_dir, caplog):
    a = run(sc2_tokenizer_dir, shards, tmp_path / "a", 0, 2)
    b = run(sc2_tokenizer_dir, shards, tmp_path / "b", 1, 2)
    size = Path(f"{b}.bin").stat().st_size
    with open(f"{b}.bin", "r+b") as data:
        data.truncate(size - 1000)
    assert merge_tool().main(["--input", a, b, "--output-prefix", str(tmp_path / "merged")]) == 1
    assert caplog.messages[-1] == (f"error: dataset {b}: {b}.bin has {size - 1000} bytes but {b}.idx indexes {size} "
                                   "(truncated: cut short, or .bin and .idx from different runs); re-run the tool "
                                   "that wrote it")
    assert not list(tmp_path.glob("merged*"))
