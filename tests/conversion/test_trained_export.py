"""A tiny model trained a few steps by our pretrain under TP2xPP2 exports to an HF model whose
logits and greedy generations are ours (the checkpoint also holds optimizer state, which export skips)."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conversion.tiny import megatron_logits
from pretrain_runs import base_args, pretrain

from megatron_sc2.conversion import export_to_hf

REPO = Path(__file__).resolve().parents[2]


def run_tool(*args) -> None:
    result = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, cwd=REPO, check=False)
    assert result.returncode == 0, f"{args[0]} failed:\n{result.stdout}\n{result.stderr}"


@pytest.mark.slow
def test_trained_tp2xpp2_checkpoint_exports_to_our_logits_and_generations(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    corpus = tmp_path / "corpus.jsonl"
    run_tool("tools/make_stdlib_corpus.py", corpus, "--packages", "json", "email")
    run_tool("tools/train_tokenizer.py", corpus, "--output-dir", tmp_path / "tokenizer", "--vocab-size", "1024")
    run_tool("tools/preprocess_data.py", "--input", corpus, "--output-prefix", tmp_path / "code",
             "--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", tmp_path / "tokenizer",
             "--repo-context", "--workers", "2")
    data = {"prefix": tmp_path / "code_content_document", "cache": tmp_path / "cache",
            "tokenizer": tmp_path / "tokenizer"}
    pretrain(4, base_args(data, tmp_path, "--tensor-model-parallel-size", 2, "--pipeline-model-parallel-size", 2,
                          "--global-batch-size", 4, "--seq-length", 64, "--train-iters", 3,
                          "--save", tmp_path / "ckpt", "--save-interval", 3, "--split", "1,0,0"))

    export_to_hf(tmp_path / "ckpt", tmp_path / "hf", tokenizer_model=tmp_path / "tokenizer", progress=False)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "hf")
    prompt = tokenizer(["def read_json(path):\n    with open(path) as f:\n"], return_tensors="pt")["input_ids"]
    torch.save(prompt, tmp_path / "tokens.pt")
    steps = 8
    ours = megatron_logits(tmp_path, 2, 2, "--load", tmp_path / "ckpt", "--generate", steps)
    ours_generated = torch.load(tmp_path / "generated.pt")

    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        theirs = hf(prompt).logits
        theirs_generated = hf.generate(prompt, max_new_tokens=steps, min_new_tokens=steps, do_sample=False)
    vocab = hf.config.vocab_size
    torch.testing.assert_close(ours[..., :vocab], theirs, rtol=0, atol=2e-5)
    assert torch.equal(ours_generated, theirs_generated)
