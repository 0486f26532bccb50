"""StarCoder2 file-level FIM: valid rearrangements, rates, metadata, length, determinism."""

from __future__ import annotations

import math

import numpy as np
import pytest

from megatron_sc2.data.fim import FIMConfig, FIMTransform
from megatron_sc2.data.special_tokens import (
    EOD,
    FILE_SEP,
    FIM_MIDDLE,
    FIM_PAD,
    FIM_PREFIX,
    FIM_SUFFIX,
    REPO_NAME,
)


def fim_parts(text: str) -> tuple[str, str, str]:
    """(A, B, C) of `<fim_prefix>A<fim_suffix>B<fim_middle>C`.

    PSM puts prefix, suffix, middle in A, B, C; SPM leaves A empty and puts suffix in B and
    prefix + middle in C. Either way the original text is A + C + B.
    """
    assert text.startswith(FIM_PREFIX), text[:80]
    a, rest = text[len(FIM_PREFIX) :].split(FIM_SUFFIX, 1)
    b, c = rest.split(FIM_MIDDLE, 1)
    return a, b, c


def split_tokens(tokens: np.ndarray, separators: set[int]) -> list[np.ndarray]:
    """The fragments between any of the separator tokens."""
    cuts = [i for i, t in enumerate(tokens.tolist()) if t in separators]
    bounds = zip([0] + [c + 1 for c in cuts], cuts + [len(tokens)])
    return [tokens[start:end] for start, end in bounds]


def check_rearrangement(original: np.ndarray, transformed: np.ndarray, tokenizer, skip_last: bool) -> int:
    """Assert each fragment of `transformed` is its original or a valid FIM of it; count the FIMs."""
    separators = {tokenizer.eod, tokenizer.token_id(FILE_SEP)}
    before, after = split_tokens(original, separators), split_tokens(transformed, separators)
    assert len(after) <= len(before)
    permuted = 0
    for old, new in list(zip(before, after))[: len(after) - skip_last]:
        if np.array_equal(old, new):
            continue
        a, b, c = fim_parts(tokenizer.decode(new.tolist()))
        assert a + c + b == tokenizer.decode(old.tolist())
        assert not tokenizer.decode(old.tolist()).startswith(REPO_NAME)
        permuted += 1
    return permuted


def assert_binomial(successes: int, trials: int, p: float) -> None:
    """Within 5 standard deviations of the binomial mean (a false alarm has odds below 1e-6)."""
    mean, sd = trials * p, math.sqrt(trials * p * (1 - p))
    assert abs(successes - mean) <= 5 * sd + 1e-9, f"{successes}/{trials} for p={p}"


@pytest.fixture(scope="module")
def files(stdlib_records) -> list[str]:
    """Short real source files (their first 800 characters)."""
    return [r["content"][:800] for r in stdlib_records if len(r["content"]) > 200]


def window_of(tokenizer, texts: list[str], separator: str) -> np.ndarray:
    ids = tokenizer.encode(separator.join(texts))
    return np.array(ids, dtype=np.int64)


def with_room(window: np.ndarray, tokenizer) -> np.ndarray:
    """The window followed by EODs, so FIM's extra tokens cut only empty segments."""
    return np.concatenate([window, np.full(len(window) // 2, tokenizer.eod)])


def test_every_file_becomes_a_valid_psm_or_spm(sc2_tokenizer, files):
    transform = FIMTransform(FIMConfig(rate=1.0, spm_rate=0.5, fragment_rate=1.0), sc2_tokenizer)
    repository = f"{REPO_NAME}cpython/email{FILE_SEP}" + FILE_SEP.join(files[:6])
    window = window_of(sc2_tokenizer, [repository, FILE_SEP + FILE_SEP.join(files[6:9])], EOD)
    long_window = with_room(window, sc2_tokenizer)
    out = transform(long_window, np.random.default_rng(0))
    assert len(out) == len(long_window)
    assert check_rearrangement(long_window, out, sc2_tokenizer, skip_last=False) == 9


def test_segment_rate_and_spm_rate(sc2_tokenizer, files):
    config = FIMConfig(rate=0.3, spm_rate=0.7, fragment_rate=0.5)
    transform = FIMTransform(config, sc2_tokenizer)
    window = with_room(window_of(sc2_tokenizer, files[:20], EOD), sc2_tokenizer)  # 20 files, no <file_sep>
    permuted = spm = 0
    for seed in range(60):
        out = transform(window, np.random.default_rng(seed))
        text = sc2_tokenizer.decode(out.tolist())
        permuted += text.count(FIM_PREFIX)
        spm += text.count(FIM_PREFIX + FIM_SUFFIX)
        check_rearrangement(window, out, sc2_tokenizer, skip_last=False)
    assert_binomial(permuted, 60 * 20, config.rate)
    assert_binomial(spm, permuted, config.spm_rate)


def test_repository_rate_then_fragment_rate(sc2_tokenizer, files):
    repositories = [FILE_SEP + FILE_SEP.join(files[i : i + 3]) for i in range(0, 30, 3)]
    window = with_room(window_of(sc2_tokenizer, repositories, EOD), sc2_tokenizer)  # 10 repos of 3 files
    for config in (FIMConfig(rate=0.4, fragment_rate=1.0), FIMConfig(rate=1.0, fragment_rate=0.25)):
        transform = FIMTransform(config, sc2_tokenizer)
        chosen_repositories = permuted_files = 0
        for seed in range(40):
            out = transform(window, np.random.default_rng(seed))
            segments = sc2_tokenizer.decode(out.tolist()).split(EOD)[:10]
            chosen_repositories += sum(FIM_PREFIX in s for s in segments)
            permuted_files += sum(s.count(FIM_PREFIX) for s in segments)
        if config.fragment_rate == 1.0:
            assert permuted_files == 3 * chosen_repositories
            assert_binomial(chosen_repositories, 40 * 10, config.rate)
        else:
            assert_binomial(permuted_files, 40 * 30, config.fragment_rate)


def test_repository_metadata_is_never_transformed(sc2_tokenizer, files):
    transform = FIMTransform(FIMConfig(rate=1.0, spm_rate=0.5, fragment_rate=1.0), sc2_tokenizer)
    metadata = f"{REPO_NAME}cpython/json"
    window = window_of(sc2_tokenizer, [metadata + FILE_SEP + FILE_SEP.join(files[:2])] * 4, EOD)
    for seed in range(20):
        out = transform(with_room(window, sc2_tokenizer), np.random.default_rng(seed))
        segments = sc2_tokenizer.decode(out.tolist()).split(EOD)
        assert all(s.startswith(metadata + FILE_SEP + FIM_PREFIX) for s in segments[:4])


def test_output_is_truncated_or_padded_with_fim_pad(sc2_tokenizer, files):
    transform = FIMTransform(FIMConfig(rate=1.0, fragment_rate=1.0), sc2_tokenizer)
    canonical = window_of(sc2_tokenizer, files[:1], EOD)
    grown = transform(canonical, np.random.default_rng(1))  # three sentinels added: cut back
    assert len(grown) == len(canonical) and FIM_PAD not in sc2_tokenizer.decode(grown.tolist())
    # One token per character re-encodes much shorter, so the tail is <fim_pad>.
    per_char = np.array([t for c in files[0] for t in sc2_tokenizer.encode(c)], dtype=np.int64)
    shrunk = transform(per_char, np.random.default_rng(1))
    pad = sc2_tokenizer.token_id(FIM_PAD)
    body = shrunk[shrunk != pad]
    assert len(shrunk) == len(per_char) and np.all(shrunk[len(body) :] == pad)
    a, b, c = fim_parts(sc2_tokenizer.decode(body.tolist()))
    assert a + c + b == files[0]


def test_special_token_text_in_a_file_stays_text(sc2_tokenizer, files):
    """Preprocessing encodes a literal `<file_sep>` inside a file as text; FIM must not turn it
    into a real separator. Real special tokens inside a file (notebook cells) stay single ids."""
    transform = FIMTransform(FIMConfig(rate=1.0, fragment_rate=1.0), sc2_tokenizer)
    literal = f"SEP = '{FILE_SEP}'\nEND = '{EOD}'\n" + files[0]
    cell = sc2_tokenizer.token_id("<jupyter_code>")
    ids = [sc2_tokenizer.token_id(FILE_SEP), *sc2_tokenizer.encode(literal, special_tokens=False), cell]
    ids += sc2_tokenizer.encode("print(1)\n")
    window = with_room(np.array(ids, dtype=np.int64), sc2_tokenizer)
    kept_cell = 0
    for seed in range(30):
        out = transform(window, np.random.default_rng(seed))
        first_eod = np.flatnonzero(out == sc2_tokenizer.eod)[0]
        assert np.count_nonzero(out == sc2_tokenizer.token_id(FILE_SEP)) == 1
        assert np.all(out[first_eod:] == sc2_tokenizer.eod)
        assert check_rearrangement(window, out, sc2_tokenizer, skip_last=False) == 1
        kept_cell += int(cell in out)
    assert kept_cell > 20  # only a cut through "<jupyter_code>" itself turns it into text


def test_same_generator_state_same_output(sc2_tokenizer, files):
    transform = FIMTransform(FIMConfig(), sc2_tokenizer)
    window = window_of(sc2_tokenizer, files[:8], FILE_SEP)
    first = transform(window, np.random.default_rng([7, 3]))
    assert np.array_equal(first, transform(window, np.random.default_rng([7, 3])))
    assert any(not np.array_equal(first, transform(window, np.random.default_rng([7, s]))) for s in range(4))


def test_invalid_rates_are_rejected():
    with pytest.raises(ValueError, match="spm_rate"):
        FIMConfig(spm_rate=1.5)


@pytest.mark.usefixtures("gloo_group")
def test_dataset_samples_are_valid_fim_of_the_plain_samples(sc2_tokenizer, stdlib_indexed_dataset, tmp_path):
    from megatron_sc2.data.datasets import build_datasets

    def train(fim):
        args = ([stdlib_indexed_dataset], "1,0,0", 512, 1234, sc2_tokenizer, (64, 0, 0))
        return build_datasets(*args, cache_path=str(tmp_path), fim=fim)[0]

    plain, fim = train(None), train(FIMConfig(rate=0.5, spm_rate=0.5, fragment_rate=0.5))
    permuted = 0
    for i in range(64):
        old, new = plain[i], fim[i]
        window = np.concatenate([old["tokens"].numpy(), old["labels"][-1:].numpy()])
        fim_window = np.concatenate([new["tokens"].numpy(), new["labels"][-1:].numpy()])
        assert np.array_equal(new["tokens"][1:], new["labels"][:-1])
        permuted += check_rearrangement(window, fim_window, sc2_tokenizer, skip_last=True)
    assert permuted > 0
