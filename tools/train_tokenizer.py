#!/usr/bin/env python
"""Train a StarCoder2-style byte-level BPE tokenizer on a code corpus (JSONL or Parquet).

The tokenizer matches StarCoder2's design (docs/starcoder2.md): byte-level BPE whose
pre-tokenizer splits digits individually and then applies the GPT-2 byte-level regex, with
StarCoder2's special tokens first (`<|endoftext|>` gets id 0). The output folder holds a
`tokenizer.json` read by `megatron_sc2.data.tokenizer` (`--tokenizer-type HuggingFaceTokenizer`)
and the config files `transformers.AutoTokenizer.from_pretrained` needs.

Example:
    python tools/train_tokenizer.py data/*.jsonl.gz --output-dir my-tokenizer --vocab-size 49152
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

from megatron_sc2 import publish
from megatron_sc2.data.inputs import SUPPORTED_SUFFIXES, CorruptInput, expand_inputs, read_records
from megatron_sc2.data.records import SKIP_REASONS, Skip, parse, text_field
from megatron_sc2.data.special_tokens import EOD, SPECIAL_TOKENS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        allow_abbrev=False,
        description=__doc__.split("\n\n")[0],
        epilog="Inputs are read as preprocess_data.py reads them: JSONL (plain, .gz, .zst) and Parquet.",
    )
    parser.add_argument(
        "inputs", nargs="+", help=f"files, globs, or folders searched for {', '.join(SUPPORTED_SUFFIXES)}"
    )
    parser.add_argument(
        "--output-dir", type=Path, required=True, help="folder to write the tokenizer files to"
    )
    parser.add_argument(
        "--vocab-size", type=int, default=49152, help="vocabulary size, special tokens included"
    )
    parser.add_argument(
        "--json-key", default="content", help="record key holding the text (default: content)"
    )
    args = parser.parse_args(argv)
    if args.vocab_size <= len(SPECIAL_TOKENS) + 256:
        parser.error(f"--vocab-size must exceed {len(SPECIAL_TOKENS) + 256} (special tokens + 256 bytes)")
    return args


def read_texts(files: list[Path], key: str) -> Iterator[str]:
    """The `key` text of each record, read as preprocessing and curation read them; a bad record stops the run."""
    for file in files:
        try:
            for number, record in enumerate(read_records(file, [key], lambda _: None), 1):
                try:
                    yield text_field(parse(record), key, allow_empty=True)
                except Skip as skip:
                    if skip.reason != "blank_line":
                        raise ValueError(f"{file}:{number}: {_problem(skip.reason, key)}") from None
        except CorruptInput as error:
            raise ValueError(f"{error} (a truncated or corrupt file)") from None


def _problem(reason: str, key: str) -> str:
    if reason == "missing_key":
        return f"record has no key {key!r} (set --json-key)"
    if reason == "wrong_type":
        return f"{key!r} is not text"
    return SKIP_REASONS[reason][0]


def build_tokenizer() -> Tokenizer:
    """An untrained StarCoder-style byte-level BPE."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Digits(individual_digits=True),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
        ]
    )
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    tokenizer.decoder = decoders.ByteLevel()
    return tokenizer


def transformers_configs() -> dict[str, dict]:
    """What `transformers.AutoTokenizer` reads beside tokenizer.json (bos = eos = unk = EOD)."""
    special = {"bos_token": EOD, "eos_token": EOD, "unk_token": EOD}
    return {
        "tokenizer_config.json": {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_prefix_space": False,
            "clean_up_tokenization_spaces": False,
            "model_max_length": 1_000_000_000_000_000_019_884_624_838_656,
            **special,
            "additional_special_tokens": list(SPECIAL_TOKENS),
        },
        "special_tokens_map.json": {**special, "additional_special_tokens": list(SPECIAL_TOKENS)},
    }


def write_atomically(tokenizer: Tokenizer, output_dir: Path) -> None:
    """Every file made before any is written, each written whole: a failure leaves nothing half-written."""
    texts = {"tokenizer.json": tokenizer.to_str(pretty=True)}
    texts.update((name, json.dumps(content, indent=2) + "\n") for name, content in transformers_configs().items())
    output_dir.mkdir(parents=True, exist_ok=True)
    for name, text in texts.items():
        publish.write_text(output_dir / name, text)


def main(argv=None) -> None:
    args = parse_args(argv)
    files = expand_inputs(args.inputs)
    print(f"training a {args.vocab_size}-token byte-level BPE on {len(files)} file(s), key {args.json_key!r}")
    tokenizer = build_tokenizer()
    trainer = trainers.BpeTrainer(
        vocab_size=args.vocab_size,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=sys.stderr.isatty(),
    )
    start = time.perf_counter()
    num_chars = 0

    def texts():
        nonlocal num_chars
        for number, text in enumerate(read_texts(files, args.json_key), 1):
            num_chars += len(text)
            if number % 100_000 == 0:
                print(f"  read {number:,} records, {num_chars / 1e6:,.1f} M characters", flush=True)
            yield text

    tokenizer.train_from_iterator(texts(), trainer=trainer)
    if tokenizer.token_to_id(EOD) != 0:
        raise RuntimeError(f"{EOD} did not get id 0")
    write_atomically(tokenizer, args.output_dir)
    print(
        f"wrote {args.output_dir}/tokenizer.json: vocab {tokenizer.get_vocab_size()}, "
        f"{num_chars / 1e6:,.1f} M characters in {time.perf_counter() - start:.1f} s"
    )
    if tokenizer.get_vocab_size() < args.vocab_size:
        print(
            f"train_tokenizer.py: warning: the vocabulary has {tokenizer.get_vocab_size():,} tokens, not the "
            f"{args.vocab_size:,} asked for: the corpus is too small for that vocabulary (no pair of tokens is "
            "left to merge); train on more text or ask for a smaller --vocab-size",
            file=sys.stderr,
        )


if __name__ == "__main__":
    try:
        main()
    except (FileNotFoundError, ValueError) as error:
        sys.exit(f"train_tokenizer.py: error: {error.args[0]}")
