"""options.py declares each option once; the flags, the YAML keys, the range checks, the stage keys
and --help are derived from its fields, and a parsed run is typed by section."""

import dataclasses

import pytest

from megatron_sc2.training.arguments import build_parser, parse_args
from megatron_sc2.training.options import OPTIONS, SECTIONS
from megatron_sc2.training.stages import STAGE_KEYS


def test_each_field_is_named_as_its_flag_and_its_yaml_key():
    assert [o.name for o in OPTIONS if o.flag.lstrip("-").replace("-", "_") != o.name] == []
    assert len({o.name for o in OPTIONS}) == len(OPTIONS)


@pytest.mark.parametrize("option", [o for o in OPTIONS if o.range], ids=lambda o: o.flag)
def test_every_declared_range_is_checked_naming_the_flag_or_the_stage_key(base, tmp_path, option):
    with pytest.raises(SystemExit) as error:  # (--save: what --save-interval needs besides its range)
        parse_args(base + [option.flag, "-1", "--save", str(tmp_path / "ckpt")])
    assert str(error.value).splitlines()[1:] == [f"  - {option.flag} must be {option.range[1]}, got -1" + (
        "" if option.kind is int else ".0")]
    if option.stage:
        config = tmp_path / "run.yaml"
        config.write_text(f"stages:\n  - {{name: s, {option.name}: -1}}\n")
        with pytest.raises(SystemExit) as error:
            parse_args(base[:6] + ["--config", str(config), "--save", str(tmp_path)])
        assert f"stage s: {option.name} must be" in str(error.value)


def test_an_integer_option_given_a_fraction_in_the_config_is_refused_naming_its_key(base, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("micro_batch_size: 1.5\n")
    with pytest.raises(SystemExit) as error:
        parse_args(base + ["--config", str(config)])
    assert str(error.value).splitlines()[1:] == ["  - --micro-batch-size must be an integer >= 1, got 1.5"]


def test_help_lists_each_section_with_its_options_in_order():
    text = build_parser().format_help()
    positions = [text.index(f"\n{section.title}:\n") for section in SECTIONS]
    assert positions == sorted(positions)
    for section, start, end in zip(SECTIONS, positions, [*positions[1:], len(text)]):
        assert all(o.flag in text[start:end] for o in OPTIONS if o.section is section), section.title
    assert all(key in text for key in STAGE_KEYS)


def test_a_run_is_typed_by_section_and_frozen(base):
    run = parse_args(base + ["--micro-batch-size", "2", "--data-path", "1", "a", "2", "b", "--no-load-optim"])
    assert (run.batch.micro_batch_size, run.data.data_path, run.checkpoint.load_optim) == (2, ("1", "a", "2", "b"), False)
    assert isinstance(run.stages, tuple) and run.stages[0].seq_length == 64
    with pytest.raises(AttributeError):
        run.micro_batch_size  # noqa: B018 - a section's option is read from its section
    with pytest.raises(dataclasses.FrozenInstanceError):
        run.batch.micro_batch_size = 4
