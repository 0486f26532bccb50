"""The configuration check: every bad value is one line naming its flag; Megatron-LM's flags are
understood, accepted as no-ops or refused with what to use; a model can be described by flags."""

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest
import torch
from multirank import free_port

from megatron_sc2.model import transformer_engine_available
from megatron_sc2.training import megatron_lm
from megatron_sc2.training.arguments import parse_args
from megatron_sc2.training.launch_checks import GIB


def problems(argv, world_size=1, ranks_here=None) -> list[str]:
    with pytest.raises(SystemExit) as error:
        parse_args(argv, world_size=world_size, ranks_here=ranks_here)
    lines = str(error.value).splitlines()
    return [line.removeprefix("  - ") for line in lines[1:]] if len(lines) > 1 else lines


@pytest.mark.parametrize(("flags", "expected"), [
    (["--seq-length", "0"], "--seq-length must be >= 1, got 0"),
    (["--lr", "-0.001"], "--lr must be >= 0, got -0.001"),
    (["--lr", "nan"], "--lr must be >= 0, got nan"),
    (["--micro-batch-size", "0"], "--micro-batch-size must be >= 1, got 0"),
    (["--global-batch-size", "0"], "--global-batch-size must be >= 1, got 0"),
    (["--split", "0,0,0"], "--split '0,0,0' gives the train split nothing"),
    (["--split", "98,x"], "--split '98,x' must be up to three non-negative train,valid,test weights"),
    (["--log-interval", "0"], "--log-interval must be >= 1, got 0"),
    (["--eval-interval", "0"], "--eval-interval must be >= 1, got 0"),
    (["--min-lr", "1e-2", "--lr", "1e-3"], "--min-lr 0.01 is above --lr 0.001"),
    (["--fim-rate", "2"], "--fim-rate must be in [0, 1], got 2.0"),
    (["--clip-grad", "-1"], "--clip-grad must be >= 0, got -1.0"),
    (["--lr-warmup-iters", "-1"], "--lr-warmup-iters must be >= 0, got -1"),
    (["--lr-warmup-iters", "10"], "the 10 warmup iterations must be fewer than the 10 decay iterations"),
    (["--adam-beta2", "1"], "--adam-beta2 must be in [0, 1), got 1.0"),
    (["--hidden-dropout", "1.5"], "--hidden-dropout must be in [0, 1), got 1.5"),
    *((["--data-path", "1", "a", weight, "b"], f"--data-path weight {weight} of b must be a number above 0")
      for weight in ("0", "-0.5", "nan", "inf")),
    (["--data-path", "1e308", "a", "1e308", "b"],  # megatron-core's normalization asserted (the sum is inf)
     "--data-path weights 1e308 1e308 add up to more than a float holds: scale them down"),
])
def test_each_bad_value_is_one_line_naming_its_flag(base, flags, expected):
    found = problems(base + flags)
    assert len(found) == 1 and found[0].startswith(expected), found


def test_bad_values_in_a_stage_of_the_config_name_the_stage(base, tmp_path):
    config = tmp_path / "run.yaml"
    config.write_text("stages:\n  - {name: long, train_iters: 2, seq_length: 0, global_batch_size: 4, lr: .nan}\n")
    found = problems(base[:6] + ["--config", str(config), "--save", str(tmp_path)])
    assert found == ["stage long: seq_length must be >= 1, got 0", "stage long: lr must be >= 0, got nan"]


def test_seq_length_zero_is_refused_by_the_entry_point_without_a_traceback(base):
    result = subprocess.run([sys.executable, "-m", "megatron_sc2.pretrain", *base, "--seq-length", "0"],
                            capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 1
    assert "--seq-length must be >= 1, got 0" in result.stderr and "Traceback" not in result.stderr


def test_a_run_without_a_model_is_refused_in_one_line(base):
    assert problems(base[2:]) == [("describe the model with --model PRESET (sc2-3b, sc2-7b, sc2-15b, sc2-tiny, ...) "
                                   "or a model YAML, or with --num-layers, --hidden-size and --num-attention-heads")]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the machine's memory bounds CPU runs only")
def test_a_cpu_run_larger_than_the_machine_is_refused_naming_both_numbers(base):
    from megatron_sc2.training.launch_checks import states_gib

    fits = problems(base, world_size=2, ranks_here=2)  # sc2-tiny fits anywhere (the base's files do not)
    assert not [line for line in fits if "GiB" in line], fits
    flags = base[2:] + ["--num-layers", "400", "--hidden-size", "32768", "--num-attention-heads", "256"]
    huge = parse_args(flags)
    per_rank = huge.model.num_parameters() * 16 / GIB  # fp32 weights, gradients and Adam's two moments, one rank
    assert states_gib(huge, 1) == pytest.approx(per_rank)
    machine = psutil.virtual_memory().total / GIB
    assert (f"this run needs at least {per_rank:.1f} GiB (1 rank(s) x {per_rank:.1f} GiB of weights, gradients and "
            f"optimizer state) and this machine has {machine:.1f} GiB: choose a smaller --model, or plan it (--dry-run "
            f"--world-size N)") in problems(flags, ranks_here=1)


@pytest.mark.skipif(transformer_engine_available(), reason="TransformerEngine runs sequence parallelism")
def test_sequence_parallel_without_transformer_engine_is_refused_before_any_process_group(base):
    from megatron_sc2.model.transformer_config import SEQUENCE_PARALLEL_NEEDS_TE

    # Rank 0 of 2 alone: past the check, it would wait for rank 1 in the rendezvous, then time out.
    env = {**os.environ, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1",
           "MASTER_PORT": str(free_port())}
    result = subprocess.run([sys.executable, "-m", "megatron_sc2.pretrain", *base, "--tensor-model-parallel-size",
                             "2", "--sequence-parallel", "--distributed-timeout-minutes", "0.2"],
                            capture_output=True, text=True, timeout=300, env=env, check=False)
    assert result.returncode == 1
    assert SEQUENCE_PARALLEL_NEEDS_TE in result.stderr and "Traceback" not in result.stderr, result.stderr[-3000:]


def test_a_model_from_architecture_flags_alone(base):
    flags = ["--num-layers", "2", "--hidden-size", "96", "--num-attention-heads", "6", "--group-query-attention",
             "--num-query-groups", "3", "--max-position-embeddings", "256", "--untie-embeddings-and-output-weights",
             "--init-method-std", "0.01", "--hidden-dropout", "0.0", "--attention-dropout", "0.05"]
    run = parse_args(base[2:] + flags, world_size=1)
    m = run.model
    assert (m.num_layers, m.hidden_size, m.num_attention_heads, m.num_query_groups, m.ffn_hidden_size) == \
        (2, 96, 6, 3, 384)  # ffn: Megatron-LM's 4 x hidden
    assert (m.max_position_embeddings, m.tie_embeddings, m.init_method_std) == (256, False, 0.01)
    assert (m.hidden_dropout, m.attention_dropout, run.stages[0].rotary_base) == (0.0, 0.05, 10000.0)
    mha = parse_args(base[2:] + ["--num-layers", "2", "--hidden-size", "64", "--num-attention-heads", "4"]).model
    assert mha.num_query_groups == 4 and mha.hidden_dropout == 0.1  # Megatron-LM's defaults
    assert "missing --hidden-size" in problems(base[2:] + ["--num-layers", "2", "--num-attention-heads", "4"])[0]
    assert "only with --group-query-attention" in problems(
        base[2:] + ["--num-layers", "2", "--hidden-size", "64", "--num-attention-heads", "4", "--num-query-groups",
                    "2"])[0]


def test_architecture_flags_override_the_preset_and_are_never_prefixes(base):
    run = parse_args(base + ["--num-layers", "2", "--pipeline-model-parallel-size", "2"], world_size=2)
    assert run.model.num_layers == 2 and run.model.hidden_size == 64  # the rest is sc2-tiny's
    assert run.parallel.virtual_pipeline_model_parallel_size is None  # not --num-layers-per-virtual-...
    assert run.parallel_options.num_layers_per_virtual_pipeline_stage is None


def test_schedule_in_samples_and_fractions_becomes_iterations(base):
    args = base[:-2] + ["--train-samples", "42", "--lr-decay-samples", "32", "--lr-warmup-fraction", "0.25"]
    stage = parse_args(args).stages[0]
    assert (stage.train_iters, stage.lr_decay_iters, stage.lr_warmup_iters) == (10, 8, 2)
    stage = parse_args(base + ["--lr-warmup-samples", "8", "--lr-decay-iters", "6"]).stages[0]
    assert (stage.train_iters, stage.lr_decay_iters, stage.lr_warmup_iters) == (10, 6, 2)
    assert "one of --train-iters, --train-tokens or --train-samples" in problems(base + ["--train-samples", "8"])[0]
    assert "one of --lr-warmup-iters" in problems(base + ["--lr-warmup-iters", "1", "--lr-warmup-fraction", "0.1"])[0]
    both = problems(base + ["--override-opt_param-scheduler", "--use-checkpoint-opt_param-scheduler"])
    assert both == ["give one of --override-opt_param-scheduler and --use-checkpoint-opt_param-scheduler"]


@pytest.mark.parametrize("flag", sorted(megatron_lm.REFUSED))
def test_refused_megatron_lm_flags_say_what_to_use(base, flag):
    found = problems(base + [flag, "1"])
    assert found == [f"Megatron-LM's {flag} is not supported here: {megatron_lm.REFUSED[flag]}"]


def test_accepted_megatron_lm_flags_change_nothing(base):
    plain = parse_args(base)
    accepted = [*megatron_lm.ACCEPTED, "--ckpt-format", "torch_dist", "--transformer-impl", "transformer_engine",
                "--position-embedding-type", "rope", "--normalization", "LayerNorm", "--rotary-percent", "1",
                "--exit-signal-handler", "--no-load-optim", "--no-load-rng", "--finetune"]
    run = parse_args(base + accepted)
    assert (run.model, run.stages, run.parallel) == (plain.model, plain.stages, plain.parallel)
    assert (run.checkpoint.load_optim, run.checkpoint.load_rng, run.checkpoint.finetune) == (False, False, True)
    assert problems(base + ["--position-embedding-type", "learned_absolute"]) == [
        "Megatron-LM's --position-embedding-type learned_absolute is not supported here: only rope"]
    assert "--tokenizer-type GPT2BPETokenizer is not supported here" in problems(
        base + ["--tokenizer-type", "GPT2BPETokenizer"])[0]


def test_flags_common_in_megatron_lm_launch_scripts_are_accepted_or_refused_with_what_to_use(base):
    plain = parse_args(base)
    run = parse_args(base + ["--use-cpu-initialization", "--manual-gc", "--manual-gc-interval", "100", "--DDP-impl",
                             "local", "--apply-query-key-layer-scaling", "--cross-entropy-loss-fusion"])
    assert (run.model, run.stages, run.parallel) == (plain.model, plain.stages, plain.parallel)
    assert problems(base + ["--DDP-impl", "torch"]) == [
        "Megatron-LM's --DDP-impl torch is not supported here: only local"]
    assert problems(base + ["--log-params-norm"]) == [(
        "Megatron-LM's --log-params-norm is not supported here: the parameter norm is not logged: drop the flag "
        "(grad_norm is logged every --log-interval)")]


def test_unknown_flags_and_refused_config_keys_are_one_line(base, tmp_path):
    assert problems(base + ["--train-iter", "3", "--seq-len", "-1", "--fp16"]) == [
        "unknown flag --train-iter (did you mean --train-iters?)", "unknown flag --seq-len (did you mean --seq-length?)",
        f"Megatron-LM's --fp16 is not supported here: {megatron_lm.REFUSED['--fp16']}"]
    config = tmp_path / "run.yaml"
    config.write_text("fp16: true\nswiglu: true\ntrain_iter: 3\n")
    assert problems(base + ["--config", str(config)]) == [
        f"--config {config}: Megatron-LM's --fp16 is not supported here: {megatron_lm.REFUSED['--fp16']}",
        f"--config {config}: Megatron-LM's --swiglu is not supported here: {megatron_lm.REFUSED['--swiglu']}",
        f"--config {config}: unknown keys ['train_iter']"]


def test_save_and_load_of_one_missing_folder_is_a_fresh_start_but_a_missing_load_alone_is_refused(base, tmp_path):
    fresh = tmp_path / "fresh"
    assert parse_args(base + ["--save", str(fresh), "--load", str(fresh)]).checkpoint.load == str(fresh)
    assert problems(base + ["--load", str(fresh)]) == [f"--load {fresh}: no such checkpoint directory"]


def test_the_docs_list_every_accepted_and_refused_flag():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "training.md").read_text()
    missing = [f for f in (*megatron_lm.ACCEPTED, *megatron_lm.CHOICES, *megatron_lm.REFUSED) if f"`{f}`" not in docs]
    assert missing == []
