"""On the CPU, the plan's memory per rank is the measured peak of real training steps on real
tensors (the same tracker the plan measures activations with), within 15%."""

import json

import pytest
from multirank import run_ranks
from pretrain_runs import environment

GIB = 2**30


@pytest.mark.slow  # real training steps at sequence length 1024
@pytest.mark.parametrize("tp", [1, 2], ids=["world-1", "tp2-on-2-ranks"])
def test_planned_memory_is_the_measured_peak_of_training(training_data, tmp_path, tp):
    run_ranks(["tests/workers/plan_peak.py", tmp_path, training_data["tokenizer"], tp, 1024, 2], tp, environment(),
              timeout=600)
    planned = json.loads((tmp_path / "plan.json").read_text())
    measured = max(json.loads((tmp_path / f"rank{r}.json").read_text())["peak_bytes"] for r in range(tp)) / GIB
    ratio = planned["total"] / measured
    print(f"TP {tp}: planned {planned['total']:.4f} GiB ({planned}), measured peak {measured:.4f} GiB, "
          f"ratio {ratio:.3f}")
    assert 0.85 <= ratio <= 1.15
