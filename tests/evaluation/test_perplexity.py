"""Perplexity's pieces: the windows it cuts, and its chunked loss equal to the model's own."""

import numpy as np
import pytest
import torch
from conversion.tiny import Tiny, make_hf

from megatron_sc2.evaluation.perplexity import _summed_loss, windows


def test_windows_overlap_by_one_token_and_stop_at_max_tokens():
    documents = iter([np.arange(5), np.arange(5, 12), np.arange(12, 100)])
    cut = windows(documents, seq_length=4, max_tokens=10)
    assert [w.tolist() for w in cut] == [[0, 1, 2, 3, 4], [4, 5, 6, 7, 8]]
    with pytest.raises(ValueError, match="too few for one window"):
        windows(iter([np.arange(3)]), seq_length=4, max_tokens=100)


def test_chunked_loss_equals_the_full_logits_loss(tmp_path):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(make_hf(tmp_path, Tiny(2, True, None))).eval()
    batch = torch.randint(0, 1000, (2, 100), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(batch[:, :-1]).logits
        full = torch.nn.functional.cross_entropy(logits.flatten(0, 1), batch[:, 1:].flatten(), reduction="sum")
        chunked = _summed_loss(model, batch, chunk=7)
    assert chunked == pytest.approx(float(full), rel=1e-6)
