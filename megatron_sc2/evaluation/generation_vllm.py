"""Completions through vLLM (`--backend vllm`) on CUDA GPUs, the model split over
`--tensor-parallel-size` of them. Unverified: this repository has had no GPU with vLLM to run it on.

It takes what generation.Generator takes (prompts, per-prompt stops, GenerationConfig) and returns
what it returns, so the tasks cut and score both alike: each prompt's token ids as transformers
encodes them (no special tokens added), the same max new tokens, temperature and top-p; each sample
ends at its first stop string or the end-of-sequence token and keeps the stop string and special
tokens in its text, as the transformers path does. vLLM schedules its own batches (--batch-size is
not used). Sample i is seeded with seed + i, so the n samples of a prompt differ and a rerun on the
same GPUs draws them again.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path

from megatron_sc2.evaluation.generation import GenerationConfig, GenerationStats, check_model_dir


class VllmGenerator:
    def __init__(self, model_dir: Path, tensor_parallel_size: int = 1, dtype: str | None = None):
        from transformers import AutoTokenizer
        from vllm import LLM

        check_model_dir(model_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)  # the prompts' ids as the transformers path's
        self.llm = LLM(model=str(model_dir), tensor_parallel_size=tensor_parallel_size,
                       dtype=dtype or "bfloat16")  # the transformers path's default on a GPU
        self.stats = GenerationStats()

    def generate(self, prompts: Sequence[str], stops: Sequence[Sequence[str]], config: GenerationConfig,
                 on_progress: Callable[[float], None] = lambda done: None) -> list[str]:
        from vllm import SamplingParams

        inputs = [{"prompt_token_ids": self.tokenizer(prompt, add_special_tokens=False)["input_ids"]}
                  for prompt in prompts]
        sampling = [SamplingParams(n=1, temperature=config.temperature, top_p=config.top_p,
                                   max_tokens=config.max_new_tokens, stop=list(row_stops), seed=config.seed + i,
                                   include_stop_str_in_output=True, skip_special_tokens=False,
                                   spaces_between_special_tokens=False)
                    for i, row_stops in enumerate(stops)]
        start = time.perf_counter()
        outputs = self.llm.generate(inputs, sampling, use_tqdm=False)
        self.stats.seconds += time.perf_counter() - start
        self.stats.samples += len(prompts)
        self.stats.new_tokens += sum(len(output.outputs[0].token_ids) for output in outputs)
        on_progress(len(prompts))
        return [output.outputs[0].text for output in outputs]
