"""The example recipes parse for the node counts their launchers promise; the launchers are valid
shell and refuse to start without their paths."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from megatron_sc2.training.arguments import parse_args

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.sh")) + [EXAMPLES / "slurm" / "pretrain_sc2.sbatch"]
# Nodes of 8 GPUs each launcher's header says the recipe runs on.
NODES = {"3b": [1, 2, 4, 8, 16, 32], "7b": [4, 8, 16, 32], "15b": [4, 8, 16, 32, 64, 128]}


@pytest.mark.parametrize("size", sorted(NODES))
def test_recipe_parses_on_supported_node_counts(size, tmp_path):
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    for nodes in NODES[size]:
        run = parse_args(["--config", str(EXAMPLES / "configs" / f"sc2-{size}.yaml"), "--data-path", "data",
                          "--tokenizer-model", str(tokenizer), "--save", str(tmp_path)], world_size=8 * nodes)
        base, long = run.stages
        assert (base.seq_length, base.sliding_window) == (4096, None)
        assert (long.seq_length, long.sliding_window) == (16384, 4096)
        assert long.rotary_base == run.model.rotary_base > base.rotary_base  # the released theta, raised
        assert long.train_iters * long.global_batch_size * long.seq_length == pytest.approx(2e11, rel=1e-3)
        assert run.parallel.sequence_parallel and run.parallel.use_distributed_optimizer


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_launcher_is_valid_shell(script):
    subprocess.run(["bash", "-n", str(script)], check=True)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_launcher_passes_shellcheck(script):
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)")
    result = subprocess.run(["shellcheck", "-x", str(script)], check=False, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("script", ["pretrain_sc2_15b.sh", "pretrain_mpirun.sh"])
def test_launcher_names_missing_variables(script):
    env = {k: v for k, v in os.environ.items() if k not in ("DATA_PATH", "TOKENIZER_MODEL", "CHECKPOINT_DIR", "NP")}
    result = subprocess.run(["bash", str(EXAMPLES / script)], check=False, capture_output=True, text=True, env=env)
    assert result.returncode == 2
    assert "DATA_PATH TOKENIZER_MODEL CHECKPOINT_DIR" in result.stderr
