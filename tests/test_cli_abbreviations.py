"""No command line of the project expands abbreviated flags: `--num-layers` must never be read as
`--num-layers-per-virtual-pipeline-stage`, whatever flags a tool gains later."""

import argparse
import re
import runpy
import sys
from pathlib import Path

import pytest

from megatron_sc2.training.arguments import parse_args

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted(str(p.relative_to(REPO)) for d in ("tools", "benchmarks") for p in (REPO / d).glob("*.py"))
CONSOLE_SCRIPTS = re.findall(r'"sc2-[\w-]+=([\w.]+):(\w+)"', (REPO / "setup.py").read_text())


def parsers_built_by(run, monkeypatch) -> list[argparse.ArgumentParser]:
    """Every ArgumentParser (subcommand parsers included) that `run` builds before `--help` exits."""
    built, original = [], argparse.ArgumentParser.__init__

    def record(self, *args, **kwargs):
        original(self, *args, **kwargs)
        built.append(self)

    monkeypatch.setattr(argparse.ArgumentParser, "__init__", record)
    with pytest.raises(SystemExit) as done:
        run()
    assert done.value.code in (0, None)
    return built


def test_every_script_and_console_script_is_found():
    assert {"tools/preprocess_data.py", "tools/convert_checkpoint.py", "tools/curate.py", "tools/train_tokenizer.py",
            "tools/merge_datasets.py", "tools/plot_metrics.py"} <= set(SCRIPTS)
    assert ("megatron_sc2.pretrain", "main") in CONSOLE_SCRIPTS and len(CONSOLE_SCRIPTS) >= 3


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_refuse_abbreviations(script, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    monkeypatch.syspath_prepend(str(REPO / Path(script).parent))
    built = parsers_built_by(lambda: runpy.run_path(str(REPO / script), run_name="__main__"), monkeypatch)
    assert built, f"{script} builds no argument parser"
    assert [p.prog for p in built if p.allow_abbrev] == []


@pytest.mark.parametrize(("module", "function"), CONSOLE_SCRIPTS)
def test_console_scripts_refuse_abbreviations(module, function, monkeypatch, capsys):
    main = getattr(__import__(module, fromlist=[function]), function)
    built = parsers_built_by(lambda: main(["--help"]), monkeypatch)
    assert built and [p.prog for p in built if p.allow_abbrev] == []


def test_a_prefix_of_a_pretrain_flag_is_an_unknown_flag_in_one_line(capsys):
    with pytest.raises(SystemExit) as error:
        parse_args(["--num-layers-per-virtual", "1"])
    lines = [line for line in str(error.value).splitlines() if "--num-layers-per-virtual" in line]
    assert len(lines) == 1 and "unknown flag" in lines[0]  # one line, listed with every other problem
