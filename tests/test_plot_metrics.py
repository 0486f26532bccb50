import importlib.util
from pathlib import Path

import pytest

from megatron_sc2.training.metrics import MetricsLogger

TOOL = Path(__file__).resolve().parent.parent / "tools" / "plot_metrics.py"


@pytest.fixture(scope="module")
def plot_metrics():
    spec = importlib.util.spec_from_file_location("plot_metrics", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(path: Path, iterations, stage_of, loss_offset=0.0):
    with MetricsLogger(str(path), None, None, None, is_logging_rank=True) as logger:
        for it in iterations:
            seq = 16384 if stage_of(it) == "long-16k" else 4096
            record = {"iteration": it, "consumed_tokens": it * 8 * seq, "stage": stage_of(it), "seq_length": seq,
                      "loss": 10.0 / it + loss_offset, "lr": 1e-4}
            logger.log(record)
            if it % 4 == 0:
                logger.log({**record, "loss": None, "valid_loss": 10.0 / it + 0.1})


def stage_of(it):
    return "base-4k" if it <= 6 else "long-16k"


def test_resumed_run_replaces_relogged_iterations(plot_metrics, tmp_path, capsys):
    path = tmp_path / "metrics.jsonl"
    write_run(path, range(1, 9), stage_of)
    write_run(path, range(5, 11), stage_of, loss_offset=1.0)  # restarted from the checkpoint at 4
    path.write_text(path.read_text() + '{"iteration": 11, "lo')  # killed mid-write
    train, valid = plot_metrics.read_metrics(path)
    assert [r["iteration"] for r in train] == list(range(1, 11))
    assert [r["loss"] for r in train[4:]] == [10.0 / it + 1.0 for it in range(5, 11)]
    assert [r["iteration"] for r in valid] == [4, 8]
    assert "incomplete last line" in capsys.readouterr().err
    assert plot_metrics.stage_boundaries(train) == [(6 * 8 * 4096, "long-16k")]


def test_bad_line_in_the_middle_names_file_and_line(plot_metrics, tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"iteration": 1, "consumed_tokens": 8, "loss": 2.0}\nnot json\n{"iteration": 2}\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2"):
        plot_metrics.read_metrics(path)


def test_writes_a_png(plot_metrics, tmp_path):
    import matplotlib.image

    runs = [tmp_path / "a.jsonl", tmp_path / "b.jsonl"]
    write_run(runs[0], range(1, 11), stage_of)
    write_run(runs[1], range(1, 11), stage_of, loss_offset=0.2)
    output = tmp_path / "loss.png"
    assert plot_metrics.main([str(p) for p in runs] + ["-o", str(output), "--title", "a vs b"]) == 0
    height, width, _ = matplotlib.image.imread(output).shape
    assert (width, height) == (1320, 840)
    assert list(tmp_path.glob("*.partial")) == []


def test_missing_file_is_a_clean_error(plot_metrics, tmp_path, capsys):
    assert plot_metrics.main([str(tmp_path / "none.jsonl"), "-o", str(tmp_path / "x.png")]) == 1
    assert "none.jsonl" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()

