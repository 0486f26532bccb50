"""A resumed stage's schedule follows Megatron-LM's two flags and is never silently kept or replaced;
the embedding follows the tokenizer."""

import math

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel

from megatron_sc2.data.tokenizer import HuggingFaceTokenizer
from megatron_sc2.training import schedule
from megatron_sc2.training.arguments import parse_args
from megatron_sc2.training.trainer import with_tokenizer_vocab


@pytest.fixture
def base(tmp_path):
    tokenizer = tmp_path / "tokenizer.json"
    tokenizer.write_text("{}")
    return ["--model", "sc2-tiny", "--data-path", "data", "--tokenizer-model", str(tokenizer), "--seq-length", "64",
            "--global-batch-size", "4", "--lr", "1e-3", "--min-lr", "1e-4", "--lr-warmup-iters", "2"]


def scheduler_after(run, steps: int):
    optimizer = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))])
    scheduler = schedule.build_scheduler(optimizer, run.stages[0], run.optimizer)
    scheduler.step(increment=steps)
    return scheduler, optimizer


def cosine(step, decay, warmup=2, max_lr=1e-3, min_lr=1e-4):
    return min_lr + 0.5 * (math.cos(math.pi * (step - warmup) / (decay - warmup)) + 1) * (max_lr - min_lr)


def test_a_longer_run_needs_a_flag_saying_which_schedule_wins(base):
    saved = scheduler_after(parse_args(base + ["--train-iters", "10"]), 6)[0].state_dict()
    longer = parse_args(base + ["--train-iters", "20"])
    scheduler, optimizer = scheduler_after(longer, 0)
    with pytest.raises(schedule.ScheduleMismatch, match=r"--train-iters 20: 20 decay iterations "
                       r"\(checkpoint: 10\).*--override-opt_param-scheduler.*--use-checkpoint-opt_param-scheduler"):
        schedule.resume(scheduler, saved, longer.optimizer, longer.stages[0])

    for flag, decay in [("--override-opt_param-scheduler", 20), ("--use-checkpoint-opt_param-scheduler", 10)]:
        run = parse_args(base + ["--train-iters", "20", flag])
        scheduler, optimizer = scheduler_after(run, 0)
        schedule.resume(scheduler, saved, run.optimizer, run.stages[0])
        schedule.apply(scheduler, optimizer)
        assert scheduler.num_steps == 6 and scheduler.lr_decay_steps == decay
        assert optimizer.param_groups[0]["lr"] == pytest.approx(cosine(6, decay), rel=1e-12)


@pytest.mark.parametrize(("given", "named"), [
    (["--lr-warmup-fraction", "0.25"], "--lr-warmup-fraction 0.25: 5 warmup iterations (checkpoint: 2)"),
    (["--lr-warmup-samples", "12"], "--lr-warmup-samples 12: 3 warmup iterations (checkpoint: 2)"),
    (["--lr-decay-samples", "60"], "--lr-decay-samples 60: 15 decay iterations (checkpoint: 20)"),
    (["--train-tokens", "3840"], "--train-tokens 3840: 15 decay iterations (checkpoint: 20)"),
])
def test_a_changed_schedule_is_named_by_the_flag_the_user_gave(base, given, named):
    saved = scheduler_after(parse_args(base + ["--train-iters", "20"]), 6)[0].state_dict()
    warmup = base.index("--lr-warmup-iters")
    flags = (base[:warmup] if "warmup" in given[0] else base) + (given if "train" in given[0] else
                                                                  ["--train-iters", "20", *given])
    run = parse_args(flags)
    with pytest.raises(schedule.ScheduleMismatch) as refused:
        schedule.resume(scheduler_after(run, 0)[0], saved, run.optimizer, run.stages[0])
    assert named in str(refused.value) and "--lr-warmup-iters" not in str(refused.value), str(refused.value)


def test_an_unchanged_schedule_resumes_without_a_flag(base):
    run = parse_args(base + ["--train-iters", "10"])
    saved = scheduler_after(run, 4)[0].state_dict()
    scheduler, optimizer = scheduler_after(run, 0)
    schedule.resume(scheduler, saved, run.optimizer, run.stages[0])
    schedule.apply(scheduler, optimizer)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(cosine(4, 10), rel=1e-12)


def word_tokenizer(path, size: int):
    vocab = {"<|endoftext|>": 0, **{f"w{i}": i for i in range(1, size)}}
    Tokenizer(WordLevel(vocab, unk_token="w1")).save(str(path))
    return HuggingFaceTokenizer(path)


def test_the_embedding_follows_the_tokenizer_unless_vocab_size_is_set(base, tmp_path):
    run = parse_args(base + ["--train-iters", "10"])  # sc2-tiny's preset says 1024 tokens
    for size in (1500, 300):
        model = with_tokenizer_vocab(run, word_tokenizer(tmp_path / f"t{size}.json", size)).model
        assert model.vocab_size == size and model.padded_vocab_size(2) == -(-size // 256) * 256
    tokenizer = word_tokenizer(tmp_path / "t.json", 300)
    set_run = parse_args(base + ["--train-iters", "10", "--vocab-size", "512", "--make-vocab-size-divisible-by", "64"])
    model = with_tokenizer_vocab(set_run, tokenizer).model
    assert (model.vocab_size, model.padded_vocab_size(1)) == (512, 512)
    too_small = parse_args(base + ["--train-iters", "10", "--vocab-size", "200"])
    with pytest.raises(SystemExit, match="--vocab-size 200 is below the 300 tokens of --tokenizer-model"):
        with_tokenizer_vocab(too_small, tokenizer)


def test_a_model_file_that_sets_the_vocabulary_keeps_it(base, tmp_path):
    tokenizer = word_tokenizer(tmp_path / "t.json", 300)
    for text, size in (("preset: sc2-tiny\nvocab_size: 640\n", 640), ("preset: sc2-tiny\n", 300)):
        model_file = tmp_path / "model.yaml"
        model_file.write_text(text)
        run = parse_args(["--model", str(model_file), *base[2:], "--train-iters", "10"])
        assert with_tokenizer_vocab(run, tokenizer).model.vocab_size == size
