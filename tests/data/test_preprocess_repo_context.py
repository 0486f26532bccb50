"""--repo-context: one document per repository in StarCoder2's format, deterministic, grouped from any order."""

from __future__ import annotations

import json
import logging
import random
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest
from tool_module import tool_module

from megatron_sc2.data import repo_context
from megatron_sc2.data.preprocess import PreprocessConfig, preprocess
from megatron_sc2.data.special_tokens import FILE_SEP, REPO_NAME

REPO_ROOT = Path(__file__).resolve().parents[2]


def read_dataset(prefix) -> list[list[int]]:
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    dataset = IndexedDataset(str(prefix))
    return [dataset[i].tolist() for i in range(len(dataset))]


def write_jsonl(path: Path, records) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return path


def run_repo(tmp_path, tokenizer_dir, inputs, **options) -> Path:
    config = PreprocessConfig(
        inputs=[str(i) for i in inputs], output_prefix=str(tmp_path / "repos"),
        tokenizer_type="HuggingFaceTokenizer", tokenizer_model=str(tokenizer_dir), workers=2,
        repo_context=True, repo_key="repository", path_key="path", **options,
    )  # fmt: skip
    preprocess(config, log=lambda line: None)
    return Path(f"{config.output_prefix}_content_document")


def split_document(tokens, tokenizer):
    """(repository or None, [(path or None, content)]) from one document's tokens."""
    repo_name, file_sep = tokenizer.token_id(REPO_NAME), tokenizer.token_id(FILE_SEP)
    assert tokens[-1] == tokenizer.eod and tokenizer.eod not in tokens[:-1]
    segments, current = [], []
    for token in tokens[:-1]:
        if token == file_sep:
            segments.append(current)
            current = []
        else:
            current.append(token)
    segments.append(current)
    header, files = segments[0], [tokenizer.decode(s) for s in segments[1:]]
    if header:
        assert header[0] == repo_name
        return tokenizer.decode(header[1:]), [tuple(f.split("\n", 1)) for f in files]
    return None, [(None, f) for f in files]


@pytest.fixture(scope="module")
def by_repo(stdlib_records):
    repos = defaultdict(list)
    for record in stdlib_records:
        if record["content"]:
            repos[record["repository"]].append((record["path"], record["content"]))
    return repos


@pytest.fixture(scope="module")
def reference(tmp_path_factory, stdlib_jsonl, sc2_tokenizer_dir) -> Path:
    return run_repo(tmp_path_factory.mktemp("reference"), sc2_tokenizer_dir, [stdlib_jsonl])


def test_one_document_per_repository_in_starcoder2_format(reference, by_repo, sc2_tokenizer):
    documents = read_dataset(reference)
    assert len(documents) == len(by_repo)
    seen, with_metadata, shuffled = set(), 0, 0
    for tokens in documents:
        repo, files = split_document(tokens, sc2_tokenizer)
        if repo is None:  # no metadata: the repository is found by its contents
            contents = sorted(content for _, content in files)
            repo = next(r for r, fs in by_repo.items() if sorted(c for _, c in fs) == contents)
            text = "".join(FILE_SEP + content for _, content in files)
        else:
            with_metadata += 1
            assert sorted(files) == sorted(by_repo[repo])
            text = REPO_NAME + repo + "".join(f"{FILE_SEP}{path}\n{content}" for path, content in files)
            shuffled += [path for path, _ in files] != sorted(path for path, _ in files)
        seen.add(repo)
        # Token for token, what Hugging Face makes of the formatted text (reference §4.1).
        assert tokens == sc2_tokenizer.encode(text) + [sc2_tokenizer.eod]
    assert seen == set(by_repo)
    assert 0 < with_metadata < len(by_repo) and shuffled > 0


def test_unsorted_input_and_many_buckets_give_the_same_output(
    tmp_path, reference, stdlib_records, sc2_tokenizer_dir, monkeypatch
):
    records = list(stdlib_records)
    random.Random(7).shuffle(records)
    halves = [write_jsonl(tmp_path / f"{i}.jsonl", records[i::2]) for i in range(2)]
    monkeypatch.setattr(repo_context, "BUCKET_BYTES", 50_000)  # about 30 buckets: grouping goes through disk
    output = run_repo(tmp_path, sc2_tokenizer_dir, halves)
    assert output.with_suffix(".bin").read_bytes() == reference.with_suffix(".bin").read_bytes()
    assert output.with_suffix(".idx").read_bytes() == reference.with_suffix(".idx").read_bytes()
    assert not list(tmp_path.glob("*repo-spill*"))


def test_seed_changes_order_and_metadata(tmp_path, reference, stdlib_jsonl, sc2_tokenizer_dir):
    output = run_repo(tmp_path, sc2_tokenizer_dir, [stdlib_jsonl], seed=99)
    assert output.with_suffix(".bin").read_bytes() != reference.with_suffix(".bin").read_bytes()


def test_special_token_text_in_files_stays_text(tmp_path, sc2_tokenizer_dir, sc2_tokenizer):
    contents = ["s = '<file_sep>'\n", "t = '<|endoftext|><repo_name>'\n", "u = 1\n"]
    records = [{"repository": "r", "path": f"f{i}.py", "content": c} for i, c in enumerate(contents)]
    (tokens,) = read_dataset(
        run_repo(tmp_path, sc2_tokenizer_dir, [write_jsonl(tmp_path / "in.jsonl", records)])
    )
    assert tokens.count(sc2_tokenizer.token_id(FILE_SEP)) == len(contents)
    assert tokens.count(sc2_tokenizer.eod) == 1
    assert sorted(content for _, content in split_document(tokens, sc2_tokenizer)[1]) == sorted(contents)


def test_repository_larger_than_the_limit_is_split(tmp_path, sc2_tokenizer_dir, sc2_tokenizer):
    records = [{"repository": "big", "path": f"m{i}.py", "content": f"x{i} = {i}\n" * 40} for i in range(12)]
    path = write_jsonl(tmp_path / "in.jsonl", records)
    documents = read_dataset(run_repo(tmp_path, sc2_tokenizer_dir, [path], max_document_bytes=1500))
    assert len(documents) > 1
    files = [f for tokens in documents for f in split_document(tokens, sc2_tokenizer)[1]]
    assert sorted(content for _, content in files) == sorted(r["content"] for r in records)
    for tokens in documents:
        assert len(sc2_tokenizer.decode(tokens).encode()) <= 1500 + 200  # + separators and header


def test_curated_output_feeds_repo_context_with_the_default_flags(tmp_path, stdlib_records, sc2_tokenizer_dir,
                                                                   caplog):
    """curate.py's default schema keeps the input's `repository`; preprocessing finds it without --repo-key.
    The Stack v2's `repo_name` (make_stdlib_corpus.py's) is found the same way; a record set with neither
    is refused in one line that names the keys and the flag."""
    raw = tmp_path / "raw"
    raw.mkdir()
    records = [{"id": f"f{i}", **r, "language": "Python"} for i, r in enumerate(stdlib_records) if r["content"]]
    write_jsonl(raw / "part0.jsonl", records[:40])
    curate = [sys.executable, str(REPO_ROOT / "tools" / "curate.py"), "--input", str(raw),
              "--output", str(tmp_path / "curated"), "--workers", "1", "--skip", "pii", "--skip", "malware"]
    result = subprocess.run(curate, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    curated = [json.loads(line) for f in sorted((tmp_path / "curated" / "data").iterdir())
               for line in f.read_text().splitlines()]
    assert curated and all("repository" in r and "repo_name" not in r for r in curated)

    tool = tool_module("preprocess_data.py")
    argv = ["--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", str(sc2_tokenizer_dir), "--repo-context"]
    assert tool.main(["--input", str(tmp_path / "curated" / "data"), "--output-prefix", str(tmp_path / "a"),
                      *argv]) == 0
    repositories = {r["repository"] for r in curated}
    assert len(read_dataset(tmp_path / "a_content_document")) == len(repositories)

    renamed = [{"repo_name" if k == "repository" else k: v for k, v in r.items()} for r in curated]
    write_jsonl(tmp_path / "stack.jsonl", renamed)
    assert tool.main(["--input", str(tmp_path / "stack.jsonl"), "--output-prefix", str(tmp_path / "b"), *argv]) == 0
    assert Path(f"{tmp_path / 'b'}_content_document.bin").read_bytes() == (
        Path(f"{tmp_path / 'a'}_content_document.bin").read_bytes())

    write_jsonl(tmp_path / "other.jsonl", [{"repo": r["repository"], "path": r["path"], "content": r["content"]}
                                           for r in curated])
    for extra, named in ([], "'repo_name' or 'repository'"), (["--repo-key", "project"], "'project'"):
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="megatron_sc2"):
            code = tool.main(["--input", str(tmp_path / "other.jsonl"), "--output-prefix", str(tmp_path / "c"),
                              *argv, *extra])
        n = len(curated)
        expected = (f"error: {n} of {n} records are bad (100.00%), more than --max-bad-fraction 1.00%; {n} have "
                    f"no {named} key (name the records' key with --repo-key); nothing was written")
        assert code == 1 and caplog.messages == [expected]
