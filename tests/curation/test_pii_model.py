"""The `--pii-model` hook with a tiny randomly initialised token-classification model saved at test time: windows,
batching, offsets, StarCoder2's post-filters and the merge with the rules (no trained StarPII can be fetched)."""

import json
from pathlib import Path

import pytest
import torch
from datatrove.data import Document
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast

from megatron_sc2.curation.cli import main
from megatron_sc2.curation.pii import PIIRedactor
from megatron_sc2.curation.pii_model import WINDOW_TOKENS, PIIModel, keep, spans

# StarPII's label set.
LABELS = ["O"] + [f"{p}-{tag}" for tag in ("AMBIGUOUS", "EMAIL", "IP_ADDRESS", "KEY", "NAME", "PASSWORD", "USERNAME")
                  for p in "BI"]
PROSE = "Maintained by Jane Roe and the build team since the first release of the parser module.\n"


def save_model(folder: Path, texts: list[str], always: str | None = None) -> Path:
    """A WordPiece tokenizer trained on `texts` and a 2-layer BERT token classifier, randomly initialised, or
    predicting the label `always` for every token (classifier weights zero, that label's bias high)."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=600, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]").save_pretrained(folder)
    torch.manual_seed(0)
    model = BertForTokenClassification(BertConfig(
        vocab_size=tokenizer.get_vocab_size(), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=WINDOW_TOKENS, id2label=dict(enumerate(LABELS)),
        label2id={label: i for i, label in enumerate(LABELS)}))
    if always:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.zero_()
            model.classifier.bias[LABELS.index(always)] = 10.0
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def texts(stdlib_sources) -> list[str]:
    return stdlib_sources[:12]


def test_spans_and_post_filters():
    offsets = [(0, 4), (5, 8), (9, 12), (13, 17), (18, 22)]
    labels = ["B-NAME", "I-NAME", "O", "I-KEY", "B-KEY"]
    assert list(spans(labels, offsets)) == [("NAME", 0, 8), ("KEY", 13, 17), ("KEY", 18, 22)]
    assert keep("NAME", "Jane Roe") and not keep("NAME", "Jane")
    assert keep("KEY", "a8Fk2LmQ9xZ4") and not keep("KEY", "password") and not keep("KEY", "a8Fk2")
    assert keep("IP_ADDRESS", "52.14.200.7") and not keep("IP_ADDRESS", "10.0.0.1") and not keep("IP_ADDRESS", "8.8.8.8")
    assert not keep("USERNAME", "octocat") and not keep("PASSWORD", "abc")


def test_windows_cover_each_file_and_offsets_point_into_it(tmp_path, texts):
    """A model that tags every token I-NAME: each 512-token window is one entity, and the windows tile the file."""
    model = PIIModel(str(save_model(tmp_path, texts, always="I-NAME")), batch_size=3)
    long_text = texts[0] * 3
    findings = model.find([long_text, PROSE])
    tokens = len(model.tokenizer(long_text, add_special_tokens=False)["input_ids"])
    windows = -(-tokens // (WINDOW_TOKENS - 2))
    assert windows >= 3 and len(findings[0]) == windows
    assert all(f.kind == "NAME" and long_text[f.start : f.end] == f.value for f in findings[0])
    assert all(a.end <= b.start for a, b in zip(findings[0], findings[0][1:]))
    assert findings[0][0].start == 0 and findings[0][-1].end == len(long_text.rstrip())
    assert [f.value for f in findings[1]] == [PROSE.strip()]


def test_batching_does_not_change_predictions(tmp_path, texts):
    folder = save_model(tmp_path, texts)  # random weights: arbitrary but deterministic labels
    batch = [texts[1] * 2, PROSE, texts[2], ""]
    one_by_one = PIIModel(str(folder), batch_size=1).find(batch)
    assert PIIModel(str(folder), batch_size=8).find(batch) == one_by_one


def test_model_names_merge_with_rules(tmp_path, texts):
    """Rules keep what they find (the email); the model adds names around it."""
    block = PIIRedactor(str(save_model(tmp_path, texts, always="B-NAME")))
    docs = [Document(text=f"Jane Roe <jane.roe@corp-mail.com> wrote {PROSE}", id="a")]
    (out,) = list(block.run(iter(docs)))
    assert "<EMAIL>" in out.text and "jane.roe" not in out.text
    # B-NAME on every token: single words, which the full-name post-filter drops
    assert "<NAME>" not in out.text and block.stats["redacted_EMAIL"].total == 1

    block = PIIRedactor(str(save_model(tmp_path, texts, always="I-NAME")))
    (out,) = list(block.run(iter([Document(text=PROSE + "x = 1\n", id="b")])))
    assert out.text == "<NAME>\n" and block.stats["redacted_NAME"].total == 1


def test_curate_with_pii_model(tmp_path, texts):
    model = save_model(tmp_path / "model", texts, always="I-NAME")
    (tmp_path / "raw").mkdir()
    records = [{"id": str(i), "content": text, "path": f"m{i}.py", "language": "Python"}
               for i, text in enumerate(texts[:3])]
    (tmp_path / "raw" / "a.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    assert main(["--skip", "malware", "--input", str(tmp_path / "raw"), "--output", str(tmp_path / "out"), "--workers", "1",
                 "--skip", "near-dedup", "--pii-model", str(model), "--pii-batch-size", "4"]) == 0
    stats = json.loads((tmp_path / "out" / "stats.json").read_text())
    assert stats["redacted"]["NAME"] >= 3
    assert main(["--skip", "malware", "--input", str(tmp_path / "raw"), "--output", str(tmp_path / "o2"),
                 "--pii-model", str(tmp_path / "missing")]) == 2
