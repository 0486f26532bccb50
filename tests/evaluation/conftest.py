import os
from pathlib import Path

import pytest

from megatron_sc2.evaluation.sandbox import (
    BUBBLEWRAP,
    RLIMITS,
    UNSHARE,
    Limits,
    Sandbox,
    bubblewrap_works,
    unshare_works,
)

NO_BWRAP = "bubblewrap (bwrap) is not installed or cannot create namespaces here: apt-get install bubblewrap"
NO_UNSHARE = "the unshare level needs root and util-linux unshare with network and PID namespaces"


def levels():
    """Every isolation level; bubblewrap and unshare are skipped, with the reason, where they cannot run."""
    return [pytest.param(BUBBLEWRAP, marks=pytest.mark.skipif(not bubblewrap_works(), reason=NO_BWRAP)),
            pytest.param(UNSHARE, marks=pytest.mark.skipif(not unshare_works(), reason=NO_UNSHARE)), RLIMITS]


@pytest.fixture(params=levels())
def sandbox(request) -> Sandbox:
    return Sandbox(Limits(timeout_s=3, memory_mb=1024, processes=24), isolation=request.param,
                   workers=min(4, os.cpu_count() or 1))


def tiny_model(folder: Path) -> Path:
    """A tiny random HF StarCoder2 folder (hf/, float32) with a byte-level BPE tokenizer trained on HumanEval's
    prompts to the model's vocabulary size, so every id it generates decodes to text."""
    from conversion.tiny import VOCAB, Tiny, make_hf
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import AutoModelForCausalLM

    from megatron_sc2.conversion.hf_io import write_tokenizer
    from megatron_sc2.data.special_tokens import EOD
    from megatron_sc2.evaluation.tasks import HumanEval

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.train_from_iterator([p.prompt for p in HumanEval().problems()], trainers.BpeTrainer(
        vocab_size=VOCAB, special_tokens=[EOD], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    assert tokenizer.get_vocab_size() == VOCAB
    tokenizer.save(str(folder / "tokenizer.json"))
    make_hf(folder / "hf", Tiny(kv_groups=2, tied=False, sliding_window=None))
    write_tokenizer(folder / "hf", folder / "tokenizer.json")
    model = AutoModelForCausalLM.from_pretrained(folder / "hf")
    model.config.max_position_embeddings = 4096  # HumanEval's prompts, in this small vocabulary, pass 256 tokens
    model.save_pretrained(folder / "hf")
    return folder / "hf"


@pytest.fixture(scope="session")
def random_model(tmp_path_factory) -> Path:
    return tiny_model(tmp_path_factory.mktemp("random_model"))


@pytest.fixture(scope="session")
def parenthesis_model(tmp_path_factory) -> Path:
    """A tiny HF StarCoder2 folder, with its tokenizer, that always generates `)`: its programs never compile."""
    import torch
    from tokenizers import Tokenizer
    from transformers import AutoModelForCausalLM

    folder = tiny_model(tmp_path_factory.mktemp("parenthesis_model"))
    parenthesis = Tokenizer.from_file(str(folder / "tokenizer.json")).token_to_id(")")
    model = AutoModelForCausalLM.from_pretrained(folder)
    with torch.no_grad():  # the final norm outputs e_0 whatever the input; the head maps e_0 to `)` alone
        model.model.norm.weight.zero_()
        model.model.norm.bias.zero_()
        model.model.norm.bias[0] = 1.0
        model.lm_head.weight.zero_()
        model.lm_head.weight[parenthesis, 0] = 10.0
    model.save_pretrained(folder)
    return folder
