"""Completions from an exported Hugging Face folder through transformers, on CPU or GPU.

Prompts are sorted by length and batched with left padding, so a batch wastes little on padding
and every row's new tokens start at the same column. Each row stops at its own stop strings (the
others go on) and is cut where it stopped, so a batch's texts are those of each prompt alone
(greedy: tests/evaluation/test_generation.py); only the new tokens are decoded. Greedy decoding is
deterministic; sampling draws from a generator seeded per run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

TOKENIZER_FILES = ("tokenizer.json", "vocab.json")  # a fast tokenizer's file, or a slow BPE's with merges.txt


@dataclass(frozen=True)
class GenerationConfig:
    max_new_tokens: int = 512
    batch_size: int = 16
    temperature: float = 0.0  # 0: greedy
    top_p: float = 0.95
    seed: int = 0


@dataclass
class GenerationStats:
    samples: int = 0
    new_tokens: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict:
        seconds = max(self.seconds, 1e-9)
        return {"samples": self.samples, "new_tokens": self.new_tokens, "seconds": round(self.seconds, 3),
                "tokens_per_s": self.new_tokens / seconds, "samples_per_s": self.samples / seconds}


class _StopStrings:
    """A stopping criterion: a row ends at the step where its newest tokens complete one of its stop
    strings, or its newest token is an end-of-sequence id. `ends` keeps each row's new-token count
    then, so the text is cut where the prompt alone would have stopped (the batch pads the row on).

    Each step decodes a row's last tokens only, not all its new ones: a stop string of b UTF-8 bytes
    completed by the newest token lies within the last b tokens (each decodes to at least one byte),
    and one token more keeps the window's first token, which may decode differently alone, before it."""

    def __init__(self, tokenizer, prompt_length: int, stops: Sequence[Sequence[str]], eos_ids: set[int]):
        self.tokenizer, self.prompt_length, self.stops, self.eos_ids = tokenizer, prompt_length, stops, eos_ids
        self.windows = [1 + max((len(stop.encode()) for stop in row), default=0) for row in stops]
        self.ends: list[int | None] = [None] * len(stops)

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        length = input_ids.shape[1]
        for row, ids in enumerate(input_ids):
            if self.ends[row] is None:
                tail = ids[max(self.prompt_length, length - self.windows[row]):]
                text = self.tokenizer.decode(tail, skip_special_tokens=False)
                if int(ids[-1]) in self.eos_ids or any(stop in text for stop in self.stops[row]):
                    self.ends[row] = length - self.prompt_length
        return torch.tensor([end is not None for end in self.ends], device=input_ids.device)


class _StepReport:
    """A stopping criterion that stops nothing: after each decoding step it reports a batch's rows times
    1 / max_new_tokens samples done, so a progress bar moves (with a rate and an ETA) while a batch
    decodes, which takes minutes on a CPU. The batch's end reports the rest."""

    def __init__(self, rows: int, max_new_tokens: int, report: Callable[[float], None]):
        self.rows, self.step, self.report, self.reported = rows, rows / max_new_tokens, report, 0.0

    def __call__(self, input_ids: torch.Tensor, scores, **kwargs) -> torch.Tensor:
        if self.reported + self.step < self.rows:
            self.report(self.step)
            self.reported += self.step
        return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    def finish(self) -> None:
        self.report(self.rows - self.reported)


def check_model_dir(model_dir: Path) -> None:
    """A Hugging Face model folder with its tokenizer, or one line saying what it lacks."""
    if not (Path(model_dir) / "config.json").is_file():
        raise ValueError(f"--model {model_dir}: not a Hugging Face model folder (no config.json)")
    if not any((Path(model_dir) / name).is_file() for name in TOKENIZER_FILES):
        raise ValueError(f"--model {model_dir}: no tokenizer (tokenizer.json, or vocab.json and merges.txt): "
                         "export with --tokenizer-model, or copy the tokenizer's files into the folder")


class Generator:
    def __init__(self, model_dir: Path, device: str | None = None, dtype: str | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        check_model_dir(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        torch_dtype = getattr(torch, dtype) if dtype else (torch.bfloat16 if self.device.type == "cuda"
                                                           else torch.float32)
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype).to(self.device).eval()
        self.stats = GenerationStats()

    @torch.inference_mode()
    def generate(self, prompts: Sequence[str], stops: Sequence[Sequence[str]], config: GenerationConfig,
                 on_progress: Callable[[float], None] = lambda done: None) -> list[str]:
        """The generated text for each prompt (not yet cut at its stop strings). `on_progress` hears how
        many samples more are done, in fractions while a batch decodes (see _StepReport)."""
        from transformers import StoppingCriteriaList

        torch.manual_seed(config.seed)
        eos = self.model.generation_config.eos_token_id  # where generate ends a row: None, an id or a list
        eos_ids = set() if eos is None else {eos} if isinstance(eos, int) else set(eos)
        order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
        outputs: list[str] = [""] * len(prompts)
        start = time.perf_counter()
        for first in range(0, len(order), config.batch_size):
            rows = order[first:first + config.batch_size]
            batch = self.tokenizer([prompts[i] for i in rows], return_tensors="pt", padding=True,
                                   add_special_tokens=False).to(self.device)
            length = batch["input_ids"].shape[1]
            sampling = {"do_sample": True, "temperature": config.temperature, "top_p": config.top_p} \
                if config.temperature > 0 else {"do_sample": False, "temperature": None, "top_p": None, "top_k": None}
            steps = _StepReport(len(rows), config.max_new_tokens, on_progress)
            stop_strings = _StopStrings(self.tokenizer, length, [stops[i] for i in rows], eos_ids)
            generated = self.model.generate(
                **batch, max_new_tokens=config.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id,
                stopping_criteria=StoppingCriteriaList([stop_strings, steps]), **sampling,
            )
            for row, ids, end in zip(rows, generated[:, length:], stop_strings.ends):
                outputs[row] = self.tokenizer.decode(ids[:end], skip_special_tokens=False)
                self.stats.new_tokens += len(ids[:end])
            self.stats.samples += len(rows)
            steps.finish()
        self.stats.seconds += time.perf_counter() - start
        return outputs
