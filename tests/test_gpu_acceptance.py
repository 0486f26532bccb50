"""tools/gpu_acceptance.py stays runnable without a GPU: --cpu runs every section that needs none."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "tools" / "gpu_acceptance.py"
sys.path.insert(0, str(REPO / "tools"))

from acceptance.report import Section, failed, table, verdict


def run_script(*args, timeout=1500) -> subprocess.CompletedProcess:
    env = {"PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO),
           "HOME": str(Path.home())}
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, env=env, check=False)


def test_without_a_gpu_it_says_to_pass_cpu():
    result = run_script()
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "no CUDA device visible: run on a GPU machine, or pass --cpu for the CPU-only steps")


def test_a_failed_check_is_listed_and_shown():
    good, bad = Section("numerics"), Section("training")
    good.check("fp32 = CPU", True, "0")
    bad.check("loss falls", False, "7.0 -> 7.1")
    bad.skip("TE", "not installed")
    bad.measure("train loop", "1.134 (goal <= 1.03)")
    assert failed([good, bad]) == ["training: loss falls"]
    shown = table([good, bad])
    assert "FAIL  loss falls: 7.0 -> 7.1" in shown and "skip  TE: not installed" in shown
    assert "ran   train loop: 1.134 (goal <= 1.03)" in shown  # a speed against a goal is a figure, not a PASS


def test_a_figure_over_its_goal_is_named_in_the_verdict():
    section = Section("benchmark")
    section.check("data path", True, "277.8 samples/s")
    section.measure("train loop: ours / bare megatron-core", "1.091 (goal <= 1.03, over it)", over_goal=True)
    section.measure("throughput", "1148 tok/s")
    assert verdict([section]) == ("all checks passed; over their goal (figures, not checks): benchmark: train loop: "
                                  "ours / bare megatron-core 1.091")
    section.check("loss falls", False)
    assert verdict([section]) == "FAILED: benchmark: loss falls"


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_cpu_mode_runs_every_section_and_passes(tmp_path):
    result = run_script("--cpu", "--out", tmp_path)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-5000:]
    report = json.loads((tmp_path / "acceptance.json").read_text())
    assert report["mode"] == "cpu" and report["failed"] == []
    sections = report["sections"]
    assert list(sections) == ["environment", "numerics", "training", "throughput", "benchmark"]
    assert all(c["ok"] is not False for s in sections.values() for c in s["checks"])
    assert sections["numerics"]["figures"]["fp32_local_vs_cpu"] == 0.0  # the same CPU path, bitwise
    assert sections["numerics"]["figures"]["bf16_local_vs_cpu_fp32"] > 0  # bf16 really ran
    training = sections["training"]["figures"]
    assert training["resume_max_loss_difference"] == 0 and training["loss_last3"] < training["loss_first3"]
    loop = sections["benchmark"]["figures"]["train_loop"]
    assert loop["ours_s_per_iter"] > 0 and loop["rounds"] == 5  # interleaved rounds, the best of each loop
    assert "best of 5 interleaved rounds" in result.stdout
    assert "all checks passed" in result.stdout


@pytest.mark.parametrize("script", ["gpu_acceptance.sh", "gpu_wheels.sh"])
def test_the_carry_scripts_are_valid_shell(script):
    subprocess.run(["bash", "-n", str(REPO / "tools" / script)], check=True)


@pytest.mark.parametrize("script", ["gpu_acceptance.sh", "gpu_wheels.sh"])
def test_the_carry_scripts_pass_shellcheck(script):
    if not shutil.which("shellcheck"):
        pytest.skip("shellcheck is not installed (apt-get install shellcheck; .ci/run installs it)")
    result = subprocess.run(["shellcheck", str(REPO / "tools" / script)], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout
