"""3D parallelism is right: every layout takes the same optimizer step as TP1/PP1/DP1.

Each layout runs one step of sc2-tiny under torchrun on gloo from the same full weights and
the same global batch; losses, grad norms and the updated weights (gathered to full
tensors from every rank's shards) must match the single-process reference."""

import json

import pytest
import torch
from multirank import run_worker

LAYOUTS = {
    "tp2": (2, ["--tp", "2"]),
    "pp2": (2, ["--pp", "2"]),
    "dp2": (2, []),
    "tp2xpp2": (4, ["--tp", "2", "--pp", "2"]),
    "tp2xdp2": (4, ["--tp", "2"]),
    "pp2-interleaved": (2, ["--pp", "2", "--vpp", "2"]),
    "dp2-distributed-optimizer": (2, ["--dist-opt"]),
}


def run_layout(out, nproc, args):
    out.mkdir(parents=True, exist_ok=True)
    run_worker("layout_step.py", nproc, "--out", out, *args)
    results = [json.loads(p.read_text()) for p in sorted(out.glob("result_rank*.json"))]
    assert results, "no rank reported a loss"
    return results[0], gather_full(out, "shards")


def gather_full(out, stem):
    """Assemble each checkpoint key's full tensor from all ranks' shards."""
    full = {}
    for path in sorted(out.glob(f"{stem}_rank*.pt")):
        for key, (shape, offset, data) in torch.load(path).items():
            tensor = full.setdefault(key, torch.full(shape, float("nan")))
            tensor[tuple(slice(o, o + n) for o, n in zip(offset, data.shape))] = data
    return full


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    return run_layout(tmp_path_factory.mktemp("ref"), 1, [])


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layout_matches_single_process(name, reference, tmp_path):
    ref_result, ref_weights = reference
    nproc, args = LAYOUTS[name]
    result, weights = run_layout(tmp_path, nproc, args)

    assert result["loss"] == pytest.approx(ref_result["loss"], rel=1e-5)
    assert result["grad_norm"] == pytest.approx(ref_result["grad_norm"], rel=1e-4)
    assert weights.keys() == ref_weights.keys()
    for key, ref in ref_weights.items():
        assert not torch.isnan(weights[key]).any(), f"{key}: some shard missing"
        torch.testing.assert_close(weights[key], ref, rtol=1e-4, atol=1e-5, msg=f"{key} differs")


def test_clipping_and_adam_act(tmp_path):
    """Clipping scales the gradient to --clip-grad; AdamW's first step moves each weight by lr."""
    lr, clip = 1e-2, 0.05
    run_worker("layout_step.py", 1, "--out", tmp_path, "--clip-grad", clip, "--lr", lr, "--adam-eps", 1e-8, "--dump-grads")
    grad_norm = json.loads((tmp_path / "result_rank0.json").read_text())["grad_norm"]
    grads = torch.load(tmp_path / "grads_rank0.pt")
    clipped_norm = torch.sqrt(sum(g.double().pow(2).sum() for g in grads.values())).item()
    assert grad_norm > 10 * clip, "the test needs a gradient well above the clip threshold"
    assert clipped_norm == pytest.approx(clip, rel=1e-3)

    before, after = gather_full(tmp_path, "before"), gather_full(tmp_path, "shards")
    weight = "decoder.layers.1.mlp.linear_fc1.weight"
    grad = grads[weight]
    step = before[weight] * (1 - lr * 0.1) - after[weight]  # undo decoupled weight decay (0.1)
    significant = grad.abs() > 1e-5  # |g| >> eps, where Adam's step is lr * sign(g)
    assert significant.float().mean() > 0.5
    torch.testing.assert_close(step[significant], lr * torch.sign(grad[significant]), rtol=1e-3, atol=1e-5)
