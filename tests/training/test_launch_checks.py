"""A launch is refused once, with every problem in one list, before any rank builds anything: the
configuration's, the run's files' (tokenizer, data, --save) and the machine's."""

import subprocess

import pytest
from multirank import REPO
from pretrain_runs import environment
from small_filesystems import tmpfs

from megatron_sc2 import pretrain
from megatron_sc2.model import transformer_engine_available
from megatron_sc2.model.transformer_config import SEQUENCE_PARALLEL_NEEDS_TE
from megatron_sc2.support import torchrun_command
from megatron_sc2.training.arguments import parse_args
from megatron_sc2.training.megatron_lm import REFUSED

# Megatron-LM's flags that used to be refused in three rounds (each a wait in a cluster's queue).
ROUNDS = ["--fp16", "--swiglu", "--vocab-file", "vocab.json", "--merge-file", "merges.txt",
          "--tokenizer-type", "GPT2BPETokenizer", "--tensor-model-parallel-size", "2", "--sequence-parallel"]
FLAG_PROBLEMS = [
    *(f"Megatron-LM's {flag} is not supported here: {REFUSED[flag]}"
      for flag in ("--fp16", "--swiglu", "--vocab-file", "--merge-file")),
    ("Megatron-LM's --tokenizer-type GPT2BPETokenizer is not supported here: use HuggingFaceTokenizer or "
    "SentencePieceTokenizer (a tokenizer.json or a sentencepiece model)"),
]
MACHINE_PROBLEMS = [] if transformer_engine_available() else [SEQUENCE_PARALLEL_NEEDS_TE]


def problems(argv, world_size=1) -> list[str]:
    """What a launch of `world_size` ranks on this machine is refused for."""
    with pytest.raises(SystemExit) as error:
        parse_args(argv, world_size=world_size, ranks_here=world_size)
    lines = str(error.value).splitlines()
    assert lines[0] == "invalid pretraining configuration:", lines
    return [line.removeprefix("  - ") for line in lines[1:]]


def test_every_problem_of_a_launch_comes_in_one_list(base, tmp_path):
    save = tmp_path / "a-file"
    save.write_text("")
    data = str(tmp_path / "data")
    found = problems(base + ROUNDS + ["--train-iter", "3", "--data-path", "1e308", data, "1e308", data,
                                      "--save", str(save), "--pipeline-model-parallel-size", "3"], world_size=2)
    assert found == [
        "unknown flag --train-iter (did you mean --train-iters?)",
        *FLAG_PROBLEMS[:4],
        ("4 layers cannot be split evenly into 3 pipeline stages; use a pipeline size (times virtual stages) among "
        "[1, 2, 4]"),
        ("world size 2 is not divisible by tensor x pipeline parallel size 2 x 3; launch a multiple of 6 processes or "
         "change the layout"),
        "--data-path weights 1e308 1e308 add up to more than a float holds: scale them down (only their ratios count)",
        FLAG_PROBLEMS[4],
        f"--data-path {data}: no {data}.bin or {data}.idx (tools/preprocess_data.py writes them)",
        f"--save {save} is a file, not a folder: give --save a folder",
        *MACHINE_PROBLEMS,
    ], found


def test_a_megatron_lm_argument_list_is_refused_in_one_round_printed_once_per_job(base):
    """Under torchrun at 2 ranks: every problem, each line once (rank 0's), with no traceback of ours
    (torchrun reports a failed job with its own ChildFailedError)."""
    result = subprocess.run(torchrun_command(2, base + ROUNDS), capture_output=True, text=True, env=environment(),
                            cwd=REPO, timeout=300, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 1
    for line in FLAG_PROBLEMS + MACHINE_PROBLEMS:
        assert output.count(line) == 1, output[-5000:]
    assert output.count("invalid pretraining configuration:") == 1, output[-5000:]
    frames = [line for line in output.splitlines() if line.strip().startswith('File "')]
    assert all("torch/distributed/" in frame or "<frozen runpy>" in frame for frame in frames), output[-5000:]


def test_a_rank_that_rank_0_does_not_stop_says_why_it_stops(monkeypatch):
    """Rank 0 prints a job's refusal; another rank waits, silent, for the launcher to stop it, and past
    PEER_WAIT_S (rank 0 did not fail alike) prints its own."""
    monkeypatch.setattr(pretrain, "PEER_WAIT_S", 0.0)
    with pytest.raises(SystemExit) as error:
        pretrain.exit_once(SystemExit("invalid pretraining configuration:\n  - x"), rank=1)
    assert error.value.code == "rank 1: invalid pretraining configuration:\n  - x"


@pytest.mark.parametrize("tokenizer_type", ["HuggingFaceTokenizer", "SentencePieceTokenizer"])
def test_a_tokenizer_model_that_is_a_jsonl_or_an_empty_folder_is_one_line(base, tmp_path, tokenizer_type):
    corpus, empty = tmp_path / "corpus.jsonl", tmp_path / "empty"
    corpus.write_text('{"content": "print(1)\\n"}\n')
    empty.mkdir()
    hf = tokenizer_type == "HuggingFaceTokenizer"
    expected = {
        corpus: (f"--tokenizer-model: {corpus} is not a Hugging Face tokenizer.json (" if hf
                 else f"--tokenizer-model: {corpus} is not a sentencepiece model ("),
        empty: (f"--tokenizer-model: no Hugging Face tokenizer at {empty} (expected a tokenizer.json or a folder "
                f"with one)" if hf else f"--tokenizer-model: no sentencepiece model at {empty}"),
    }
    at = base.index("--tokenizer-model") + 1
    for path, line in expected.items():
        argv = [*base[:at], str(path), *base[at + 1:], "--tokenizer-type", tokenizer_type]
        found = [p for p in problems(argv) if p.startswith("--tokenizer-model")]
        assert len(found) == 1 and found[0].startswith(line), found


@pytest.fixture
def read_only_dir(tmp_path):
    """A read-only filesystem holding the folder `existing` (root writes through permissions, not this)."""
    with tmpfs(tmp_path / "ro", size="1m", read_only=True, holding=["existing"]) as mount:
        yield mount


def test_a_save_folder_on_a_read_only_filesystem_is_one_line(base, read_only_dir):
    existing, new = read_only_dir / "existing", read_only_dir / "new" / "ckpt"
    advice = "give --save a folder this job can write"
    assert f"--save {existing} is on a read-only filesystem: {advice}" in problems(base + ["--save", str(existing)])
    assert f"--save {new}: {read_only_dir} is on a read-only filesystem: {advice}" in problems(
        base + ["--save", str(new)])
