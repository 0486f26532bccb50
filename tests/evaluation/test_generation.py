"""Batched generation gives each prompt the text it gets alone from plain transformers `generate`:
left padding changes no greedy token, and each row is cut at the token that completed its stop
string or ended its text, not where the batch ended."""

import pytest
import torch

from megatron_sc2.evaluation.generation import GenerationConfig, Generator

# 1 to 69 tokens in the tiny vocabulary, one with multi-byte characters
PROMPTS = ["x", "def f(x):\n    return (x)\n", "# é → ü\ndef g(a, b):\n",
           'def add(a, b):\n    """Add two numbers → their sum."""\n' * 3, "import os\n" * 4]
NEVER = ("\0never",)
TOKENS = 24


@pytest.fixture(scope="module")
def generator(random_model):
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # on two busy cores this tiny model steps many times faster on one thread
    yield Generator(random_model, "cpu")
    torch.set_num_threads(threads)


def reference(generator: Generator, stops) -> tuple[list[str], int]:
    """Each prompt alone through transformers' greedy `generate` (which ends at an end-of-sequence id), cut at
    the first token whose text completes a stop string; and the new tokens kept in all."""
    texts, kept = [], 0
    for prompt, row_stops in zip(PROMPTS, stops):
        ids = generator.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        new = generator.model.generate(ids, max_new_tokens=TOKENS, do_sample=False, pad_token_id=0)[0, ids.shape[1]:]
        text = [generator.tokenizer.decode(new[:k], skip_special_tokens=False) for k in range(1, len(new) + 1)]
        k = next((k for k in range(1, len(new) + 1) if any(s in text[k - 1] for s in row_stops)), len(new))
        texts.append(text[k - 1])
        kept += k
    return texts, kept


def batches(generator: Generator, stops) -> list[tuple[list[str], int]]:
    """The texts and new tokens of batches of 1, 2 and all prompts."""
    runs = []
    for size in (1, 2, len(PROMPTS)):
        generator.stats.__init__()
        runs.append((generator.generate(PROMPTS, stops, GenerationConfig(TOKENS, batch_size=size)),
                     generator.stats.new_tokens))
    return runs


def test_each_row_of_a_batch_stops_at_its_own_stop_string_as_alone(generator):
    free, _ = reference(generator, [NEVER] * len(PROMPTS))
    # rows 1 and 3 stop at a string of several tokens from their own free text (row 3 at one of two)
    stops = [NEVER, (free[1][6:18],), NEVER, ("\0other", free[3][4:16]), NEVER]
    expected = reference(generator, stops)
    assert [text != full for text, full in zip(expected[0], free)] == [False, True, False, True, False]
    assert batches(generator, stops) == [expected] * 3


def test_a_row_that_ends_its_text_is_cut_there_as_alone(generator, monkeypatch):
    prompt = generator.tokenizer(PROMPTS[2], return_tensors="pt", add_special_tokens=False)["input_ids"]
    new = generator.model.generate(prompt, max_new_tokens=TOKENS, do_sample=False, pad_token_id=0)[0, prompt.shape[1]:]
    eos = int(new[TOKENS // 2])  # a token row 2 generates: made its end-of-sequence token
    monkeypatch.setattr(generator.model.generation_config, "eos_token_id", eos)
    expected = reference(generator, [NEVER] * len(PROMPTS))
    assert expected[0][2].endswith(generator.tokenizer.decode([eos]))
    assert expected[1] <= (len(PROMPTS) - 1) * TOKENS + TOKENS // 2 + 1
    assert batches(generator, [NEVER] * len(PROMPTS)) == [expected] * 3
