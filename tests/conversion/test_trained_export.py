"""With our pretrain: a tiny model trained a few steps under TP2xPP2 exports to an HF model whose
logits and greedy generations are ours (the checkpoint also holds optimizer state, which export
skips); and that HF folder imports back into a checkpoint `pretrain --load` continues from."""

import pytest
import torch
from conversion.tiny import megatron_logits
from pretrain_runs import base_args, losses, pretrain

from megatron_sc2.conversion import export_to_hf, import_from_hf

TRAIN = ["--global-batch-size", 4, "--seq-length", 64, "--split", "1,0,0", "--lr", 3e-3, "--min-lr", 3e-4,
         "--lr-warmup-iters", 0]


@pytest.fixture(scope="module")
def trained(training_data, tmp_path_factory) -> dict:
    """sc2-tiny trained 6 steps by pretrain under TP2xPP2 on the stdlib code dataset, then exported."""
    root = tmp_path_factory.mktemp("trained")
    (root / "run").mkdir()
    pretrain(4, base_args(training_data, root / "run", "--tensor-model-parallel-size", 2,
                          "--pipeline-model-parallel-size", 2, *TRAIN, "--train-iters", 6, "--save", root / "ckpt",
                          "--save-interval", 6))
    export_to_hf(root / "ckpt", root / "hf", tokenizer_model=training_data["tokenizer"], progress=False)
    return {"root": root, "data": training_data, "losses": losses(root / "run" / "metrics.jsonl")}


@pytest.mark.slow
def test_trained_tp2xpp2_checkpoint_exports_to_our_logits_and_generations(tmp_path, trained):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    root = trained["root"]
    tokenizer = AutoTokenizer.from_pretrained(root / "hf")
    prompt = tokenizer(["def read_json(path):\n    with open(path) as f:\n"], return_tensors="pt")["input_ids"]
    torch.save(prompt, tmp_path / "tokens.pt")
    steps = 8
    ours = megatron_logits(tmp_path, 2, 2, "--load", root / "ckpt", "--generate", steps)
    ours_generated = torch.load(tmp_path / "generated.pt")

    hf = AutoModelForCausalLM.from_pretrained(root / "hf").eval()
    with torch.no_grad():
        theirs = hf(prompt).logits
        theirs_generated = hf.generate(prompt, max_new_tokens=steps, min_new_tokens=steps, do_sample=False)
    vocab = hf.config.vocab_size
    torch.testing.assert_close(ours[..., :vocab], theirs, rtol=0, atol=2e-5)
    assert torch.equal(ours_generated, theirs_generated)


@pytest.mark.slow
def test_imported_hf_weights_continue_pretraining(tmp_path, trained):
    """HF -> import -> `pretrain --load` under another layout (TP2, PP1) starts a fresh run from the
    trained weights: its first loss, on the same first batch, is the trained model's, not a new init's."""
    import_from_hf(trained["root"] / "hf", tmp_path / "ckpt", tensor_parallel=2, progress=False)
    pretrain(2, base_args(trained["data"], tmp_path, "--tensor-model-parallel-size", 2, *TRAIN,
                          "--train-iters", 1, "--load", tmp_path / "ckpt"))
    continued, trained_losses = losses(tmp_path / "metrics.jsonl"), trained["losses"]
    first = min(trained_losses)
    assert min(continued) == first  # a fresh run: the iteration count starts anew
    assert continued[first] < trained_losses[first] - 0.2, (continued, trained_losses)
