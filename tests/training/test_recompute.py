"""Activation recompute runs on the CPU, and recomputes with the forward pass's dropout masks."""

import pytest
import torch

from megatron_sc2.config import ParallelConfig, get_preset
from megatron_sc2.model import RecomputeConfig, build_model, to_transformer_config


@pytest.mark.parametrize("granularity", ["selective", "full"])
def test_recompute_with_dropout_gives_the_gradients_without_recompute(single_process_group, granularity):
    from megatron.core import tensor_parallel

    cfg = get_preset("sc2-tiny").replace(hidden_dropout=0.1, attention_dropout=0.1)
    tokens = torch.randint(0, cfg.vocab_size, (2, 32), generator=torch.Generator().manual_seed(0))
    positions = torch.arange(32).expand(2, 32)
    tracker = tensor_parallel.get_cuda_rng_tracker()
    rng = torch.get_rng_state(), tracker.get_states()

    def loss_and_grads(recompute: RecomputeConfig, weights: dict | None):
        (model,) = build_model(cfg, to_transformer_config(cfg, ParallelConfig(), recompute=recompute),
                               max_sequence_length=32)
        if weights is not None:
            model.load_state_dict(weights)
        torch.set_rng_state(rng[0])
        tracker.set_states(dict(rng[1]))
        loss = model(tokens, positions, attention_mask=None, labels=tokens).sum()
        loss.backward()
        return model.state_dict(), loss, {name: p.grad for name, p in model.named_parameters()}

    weights, expected_loss, expected = loss_and_grads(RecomputeConfig(), None)
    _, loss, grads = loss_and_grads(RecomputeConfig(granularity), weights)
    assert loss == expected_loss
    for name, grad in expected.items():
        torch.testing.assert_close(grads[name], grad, rtol=0, atol=0, msg=name)
