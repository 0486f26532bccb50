"""What a training log says: saves and loads with their iterations, folders and contents, the model's
parameter count and the resolved layout, and each warning at most once.

Two real 2-rank runs share one checkpoint folder: a PP2 run with the distributed optimizer over a
two-dataset blend without --data-cache-path, launched as the quick start launches (torchrun, cold interpreters, so the
import-time warnings show), saves at iterations 2 and 3 and stops; a TP2 run (forked ranks)
loads iteration 3 without its optimizer state and saves iteration 4 in the background.
"""

import json
import re
from collections import Counter
from pathlib import Path

import pytest
import torch
from pretrain_runs import SCHEDULE, base_args, pretrain, start_pretrain

from megatron_sc2.config import ModelConfig

pytestmark = pytest.mark.slow  # about 25 s: two real runs, one through torchrun with cold interpreters

STEPS = ["--seq-length", "64", "--global-batch-size", "4", "--train-iters", "4", *SCHEDULE]


def linked_copy(prefix: Path, folder: Path, name: str) -> Path:
    """The dataset under another prefix; megatron-core writes its default index cache beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    for source in prefix.parent.glob(f"{prefix.name}.*"):
        (folder / source.name.replace(prefix.name, name, 1)).symlink_to(source)
    return folder / name


@pytest.fixture(scope="module")
def runs(training_data, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("log_lines")
    ckpt = root / "ckpt"
    first, second = (linked_copy(training_data["prefix"], root / "data", name) for name in ("first", "second"))
    blend = ["--model", "sc2-tiny", "--data-path", "0.5", first, "0.5", second,
             "--tokenizer-model", training_data["tokenizer"], "--split", "98,2,0", "--micro-batch-size", "2",
             "--log-interval", "1", "--eval-interval", "1000", "--eval-iters", "1", "--num-workers", "0",
             "--pipeline-model-parallel-size", "2", "--use-distributed-optimizer", *STEPS, "--save", ckpt, "--save-interval", "2",
             "--exit-interval", "3"]
    log = root / "saved.log"
    job = start_pretrain(2, [*map(str, blend)], log)
    assert job.wait(300) == 0, log.read_text()[-6000:]
    loaded = pretrain(2, base_args(training_data, root / "loaded", "--tensor-model-parallel-size", "2", *STEPS,
                                   "--load", ckpt, "--no-load-optim", "--save", root / "ckpt2", "--async-save"))
    return {"saved": log.read_text(), "loaded": loaded.stdout + loaded.stderr, "ckpt": ckpt,
            "ckpt2": root / "ckpt2"}


def lines(text: str, pattern: str) -> list[re.Match]:
    return [m for m in map(re.compile(pattern).search, text.splitlines()) if m]


def test_each_save_is_logged_when_it_starts_and_when_it_is_complete(runs):
    saved, ckpt = runs["saved"], runs["ckpt"]
    for iteration in (2, 3):
        folder = ckpt / f"iter_{iteration:07d}"
        assert len(lines(saved, rf"saving checkpoint at iteration {iteration} to {re.escape(str(ckpt))}$")) == 1
        done = lines(saved, rf"saved checkpoint at iteration {iteration} to {re.escape(str(folder))} in "
                            r"(\d+\.\d+) s$")
        assert len(done) == 1 and float(done[0][1]) > 0
    background = lines(runs["loaded"], rf"saved checkpoint at iteration 4 to {re.escape(str(runs['ckpt2']))}"
                                       r"/iter_0000004 in \d+\.\d+ s \(written in the background\)$")
    assert len(background) == 1
    assert len(lines(runs["loaded"], r"saving checkpoint at iteration 4 to .+ \(in the background, --async-save\)$")) == 1


def test_a_load_says_which_iteration_from_where_and_what_it_restored(runs):
    folder = re.escape(str(runs["ckpt"] / "iter_0000003"))
    loaded = lines(runs["loaded"], rf"loaded iteration 3 from {folder} in \d+\.\d+ s \(model: yes, "
                                   r"optimizer: no \(--no-load-optim or --finetune\), rng: no \(saved at TP1 x PP2\)\)$")
    assert len(loaded) == 1, runs["loaded"][-4000:]
    assert not lines(runs["saved"], "loaded iteration")


def independent_parameter_count(ckpt: Path) -> int:
    """transformers' Starcoder2ForCausalLM of the checkpoint's architecture (tied embeddings once)."""
    from transformers import Starcoder2Config, Starcoder2ForCausalLM

    from megatron_sc2.conversion.hf_io import hf_config

    meta = json.loads((ckpt / "iter_0000003" / "sc2_checkpoint.json").read_text())
    config = Starcoder2Config(**hf_config(ModelConfig.from_dict(meta["model"]), torch.float32, eod_id=0))
    with torch.device("meta"):
        return sum(p.numel() for p in Starcoder2ForCausalLM(config).parameters())


def test_start_up_gives_the_whole_models_parameter_count_and_the_resolved_layout(runs):
    expected = independent_parameter_count(runs["ckpt"])
    for run, layout in (("saved", "TP 1 x PP 2 x DP 1 on 2 ranks; micro batch 2; distributed optimizer on"),
                        ("loaded", "TP 2 x PP 1 x DP 1 on 2 ranks; micro batch 2; distributed optimizer off")):
        counts = lines(runs[run], r"model: ([\d,]+) parameters")
        assert [int(m[1].replace(",", "")) for m in counts] == [expected], run
        assert len(lines(runs[run], rf"layout: {layout}; fp32$")) == 1, run
        assert len(lines(runs[run], r"stage main: .* global batch 4 = 2 microbatches x 2 x DP 1$")) == 1, run


def test_each_warning_appears_at_most_once_and_the_cpu_fallbacks_are_said_once(runs):
    for run in ("saved", "loaded"):  # the first in cold interpreters: their imports' warnings are in it
        warned = Counter(m[0] for m in lines(runs[run], r"\w*Warning: .*"))
        assert not [w for w, n in warned.items() if n > 1], (run, warned)
        assert "not installed" not in runs[run], run
    log = runs["saved"]
    assert len(lines(log, r"torch fallbacks for TransformerEngine's and Apex's GPU kernels")) == 1
    assert "path_to_cache is None" not in log
    assert len(lines(log, r"without --data-cache-path, the blend's indices are built in memory at every start; "
                          r"--data-cache-path DIR caches them$")) == 1
