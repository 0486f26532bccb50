"""Throughput of the `--pii-model` hook with a StarPII-shaped model (StarEncoder: BERT, 12 layers, hidden 768, 12
heads, 15 StarPII labels), randomly initialised (no trained model can be fetched here; the cost is the same), over
standard-library files in 512-token windows; on the GPU when there is one (fp16), else on CPU.

    python benchmarks/pii_model.py [--docs 20] [--batch-size 32]
"""

import argparse
import sysconfig
import tempfile
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
from transformers import BertConfig, BertForTokenClassification, PreTrainedTokenizerFast

from megatron_sc2.curation.pii_model import WINDOW_TOKENS, PIIModel

LABELS = ["O"] + [f"{p}-{tag}" for tag in ("AMBIGUOUS", "EMAIL", "IP_ADDRESS", "KEY", "NAME", "PASSWORD", "USERNAME")
                  for p in "BI"]


def starpii_shaped_model(folder: Path, texts: list[str]) -> None:
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tokenizer.train_from_iterator(texts, trainers.WordPieceTrainer(
        vocab_size=8000, special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]"]))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    PreTrainedTokenizerFast(tokenizer_object=tokenizer, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                            sep_token="[SEP]").save_pretrained(folder)
    config = BertConfig(vocab_size=49152, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072, max_position_embeddings=1024, id2label=dict(enumerate(LABELS)),
                        label2id={label: i for i, label in enumerate(LABELS)})
    BertForTokenClassification(config).save_pretrained(folder)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--docs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    root = Path(sysconfig.get_paths()["stdlib"])
    texts = [p.read_text(errors="ignore") for p in sorted(root.glob("*.py"))]
    texts = [t for t in texts if 2_000 < len(t) < 100_000]
    with tempfile.TemporaryDirectory() as folder:
        starpii_shaped_model(Path(folder), texts[:200])
        model = PIIModel(folder, batch_size=args.batch_size)
        docs = texts[: args.docs]
        model.find(docs[:2])  # warm-up
        windows = len(model._windows(docs))
        if model.device != "cpu":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.find(docs)
        if model.device != "cpu":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
    mb = sum(map(len, docs)) / 1e6
    device = torch.cuda.get_device_name() if model.device != "cpu" else f"CPU, {torch.get_num_threads()} threads"
    print(f"{len(docs)} files, {mb:.2f} MB, {windows} windows of <= {WINDOW_TOKENS} tokens, on {device}")
    print(f"{mb / seconds:.3f} MB/s  {len(docs) / seconds:.2f} files/s  {windows * WINDOW_TOKENS / seconds:,.0f} "
          "window tokens/s")


if __name__ == "__main__":
    main()
