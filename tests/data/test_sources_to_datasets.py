"""Each StarCoder2 source, from planted raw records to its own dataset, as a user runs the tools:
`render_sources.py` (filters, pseudonyms, the paper's format) -> `curate.py --malware-db` with the real
ClamAV (the scan alone: the code filters do not apply to these sources) -> `preprocess_data.py
--append-eod`. A planted malware string in an issue and in an IR record is removed by clamd; every other
rendered record reaches the dataset, which megatron-core's IndexedDataset reads."""

import json
import sys
from pathlib import Path

import pytest
from clamav_db import CLAMD_MISSING, FOUND, PLANTED, signature_db
from tool_module import tool_module

from megatron_sc2.curation.cli import main as curate_main
from megatron_sc2.sources.cli import main as render_main

REPO_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO_ROOT / "tests" / "sources"))  # the sources' planted records, as test_preprocess_sources
import notebook_planted
import planted
from test_render_sources import rendered, write_records

pytestmark = pytest.mark.skipif(CLAMD_MISSING is not None, reason=CLAMD_MISSING or "")
SCAN_ONLY = ["--skip", "basic-filters", "--skip", "decontamination", "--skip", "near-dedup", "--skip", "pii"]


def infected_issue() -> dict:
    record = planted.issue(90)
    record["events"][1]["comment"] += f" payload: {PLANTED}"
    return record


RAW = {
    "issues": lambda: [planted.issue(n) for n in range(3)] + [infected_issue()],
    "prs": lambda: planted.pr_cases(),
    "stackexchange": lambda: [planted.question(n) for n in range(3)],
    "jupyter-structured": lambda: [{"id": k, "content": v} for k, v in notebook_planted.NOTEBOOKS.items()],
    "jupyter-scripts": lambda: [{"id": k, "content": v} for k, v in notebook_planted.NOTEBOOKS.items()],
    "kaggle": lambda: [{"id": k, "content": v} for k, v in notebook_planted.KAGGLE.items()],
    "ir": lambda: [{"id": k, **v} for k, v in notebook_planted.IR.items()]
    + [{"id": "infected", "source": f"int f(void) {{ return 0; }} /* {PLANTED} */\n", "llvm_O3": "; O3\n",
        "llvm_OZ": "; Oz\n"}],
}
INFECTED = {"issues", "ir"}


def tool(script: str, *args) -> None:
    """`tools/SCRIPT ARGS` as the tool's own `main`, in this process (its datatrove workers are processes)."""
    main = {"render_sources.py": render_main, "curate.py": curate_main}.get(script) or tool_module(script).main
    assert main([str(a) for a in args]) == 0, script


@pytest.mark.parametrize("source", sorted(RAW))
def test_a_source_becomes_its_own_scanned_dataset(tmp_path, sc2_tokenizer_dir, source):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    extra = ["--set", "subsample_per_repo=False"] if source == "prs" else []  # keep every planted PR
    tool("render_sources.py", "--source", source, "--input", write_records(tmp_path / "raw", RAW[source]()),
         "--output", tmp_path / "rendered", "--workers", 1, *extra)
    texts = rendered(tmp_path / "rendered")
    assert texts and any(PLANTED in t["content"] for t in texts) == (source in INFECTED)
    tool("curate.py", "--input", tmp_path / "rendered" / "data", "--output", tmp_path / "scanned", "--malware-db",
         signature_db(tmp_path / "clamav"), "--workers", 1, *SCAN_ONLY)
    stats = json.loads((tmp_path / "scanned" / "stats.json").read_text())
    assert stats["malware"] == ({FOUND: 1} if source in INFECTED else {}), stats
    tool("preprocess_data.py", "--input", tmp_path / "scanned" / "data", "--output-prefix", tmp_path / source,
         "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", sc2_tokenizer_dir, "--append-eod",
         "--workers", 1)
    dataset = IndexedDataset(f"{tmp_path / source}_content_document")
    assert len(dataset) == len(texts) - (source in INFECTED)
