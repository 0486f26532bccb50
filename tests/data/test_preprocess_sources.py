"""Each rendered conversation source preprocesses into its own dataset, its special tokens one id each."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from megatron_sc2.data.special_tokens import SPECIAL_TOKENS
from megatron_sc2.sources.pipeline import run
from megatron_sc2.sources.prs import PROptions

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sources"))
import planted
from test_render_sources import write_records

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES = {
    "issues": (planted.issue_cases(), None),
    "prs": (planted.pr_cases(), PROptions(subsample_per_repo=False)),
    "stackexchange": ([planted.question(n) for n in range(4)], None),
}


@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_rendered_source_preprocesses_with_single_special_ids(tmp_path, sc2_tokenizer_dir, source):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    from megatron_sc2.sources import SOURCES as REGISTRY

    records, options = SOURCES[source]
    data = write_records(tmp_path / "raw", records)
    run(source, str(data), str(tmp_path / "rendered"), 0, options or REGISTRY[source].options(), log=lambda _: None)
    prefix = tmp_path / source
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "tools" / "preprocess_data.py"), "--input", str(tmp_path / "rendered" / "data"),
         "--output-prefix", str(prefix), "--tokenizer-type", "HuggingFaceTokenizer",
         "--tokenizer-model", str(sc2_tokenizer_dir), "--append-eod", "--workers", "1"],
        capture_output=True, text=True, cwd=REPO_ROOT, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    tokenizer = Tokenizer.from_file(str(sc2_tokenizer_dir / "tokenizer.json"))
    texts = [line for path in sorted((tmp_path / "rendered" / "data").glob("*.jsonl"))
             for line in path.read_text().splitlines()]
    rendered = "".join(texts)
    dataset = IndexedDataset(f"{prefix}_content_document")
    ids = [token for i in range(len(dataset)) for token in dataset[i].tolist()]
    assert len(dataset) == len(texts) > 0
    used = set(re.findall(r"<[a-z_|]+>", rendered)) & set(SPECIAL_TOKENS)
    assert len(used) >= 2
    for token in used:  # a token's text, escaped in JSON or not, is one id as often as it is written
        token_id = tokenizer.token_to_id(token)
        assert token_id is not None and ids.count(token_id) == rendered.count(token), token
