"""Interleaved pipelines (virtual stages) checkpoint like every other layout: their checkpoints
reshard to and from non-interleaved layouts and export to Hugging Face. (Exact resume after a
SIGKILL is test_resume.py's kill test, which runs interleaved too.)"""

import shutil

import pytest
import torch
from conversion.tiny import megatron_logits
from pretrain_runs import SCHEDULE, base_args, losses, pretrain

from megatron_sc2.checkpoint import latest_iteration, resolve, write_marker
from megatron_sc2.conversion import export_to_hf

INTERLEAVED = ["--pipeline-model-parallel-size", "2", "--num-layers-per-virtual-pipeline-stage", "1"]
# Layouts agree to reduction-order noise; Adam's g / (sqrt(v) + eps) magnifies it in near-zero
# gradients, and a larger eps keeps the comparison well conditioned (as in test_resume.py).
STEPS = ["--seq-length", "64", "--global-batch-size", "4", "--train-iters", "8", *SCHEDULE,
         "--use-distributed-optimizer", "--adam-eps", "1e-4"]


@pytest.fixture(scope="module")
def interleaved(training_data, tmp_path_factory) -> dict:
    """sc2-tiny trained 8 steps as PP2 x 2 virtual stages (one layer per chunk), saved at 4 and 8."""
    root = tmp_path_factory.mktemp("interleaved")
    pretrain(2, base_args(training_data, root, *INTERLEAVED, *STEPS, "--save", root / "ckpt", "--save-interval", 4))
    assert latest_iteration(root / "ckpt") == 8
    assert resolve(root / "ckpt", 4)[1]["parallel"]["virtual_pipeline_model_parallel_size"] == 2
    return {"ckpt": root / "ckpt", "losses": losses(root / "metrics.jsonl")}


def at_iteration(ckpt, iteration, into):
    """A copy of `ckpt` whose marker names `iteration`."""
    shutil.copytree(ckpt, into)
    write_marker(into, iteration)
    return into


@pytest.mark.slow
@pytest.mark.parametrize("layout", [pytest.param((1, []), id="pp1"),
                                    pytest.param((2, ["--pipeline-model-parallel-size", "2"]), id="pp2")])
def test_interleaved_checkpoint_reshards_to_and_from_a_plain_pipeline(training_data, interleaved, tmp_path, layout):
    nproc, args = layout
    plain = tmp_path / "plain"
    pretrain(nproc, base_args(training_data, plain, *args, *STEPS, "--save", plain / "ckpt", "--save-interval", 2,
                              "--load", at_iteration(interleaved["ckpt"], 4, tmp_path / "from4")))
    continued, reference = losses(plain / "metrics.jsonl"), interleaved["losses"]
    assert sorted(continued) == [5, 6, 7, 8]
    for iteration, loss in continued.items():
        assert loss == pytest.approx(reference[iteration], rel=1e-5), iteration

    back = tmp_path / "back"
    write_marker(plain / "ckpt", 6)
    pretrain(2, base_args(training_data, back, *INTERLEAVED, *STEPS, "--load", plain / "ckpt"))
    resumed = losses(back / "metrics.jsonl")
    assert sorted(resumed) == [7, 8]
    for iteration, loss in resumed.items():
        assert loss == pytest.approx(continued[iteration], rel=1e-5), iteration


@pytest.mark.slow
def test_interleaved_checkpoint_exports_to_the_logits_of_a_plain_pipeline(training_data, interleaved, tmp_path):
    from transformers import AutoModelForCausalLM

    export_to_hf(interleaved["ckpt"], tmp_path / "hf", tokenizer_model=training_data["tokenizer"], progress=False)
    tokens = torch.randint(0, 1000, (2, 24), generator=torch.Generator().manual_seed(1))
    torch.save(tokens, tmp_path / "tokens.pt")
    ours = megatron_logits(tmp_path, 1, 2, "--load", interleaved["ckpt"])  # PP2 without virtual stages
    hf = AutoModelForCausalLM.from_pretrained(tmp_path / "hf").eval()
    with torch.no_grad():
        theirs = hf(tokens).logits
    torch.testing.assert_close(ours[..., :hf.config.vocab_size], theirs, rtol=0, atol=2e-5)
