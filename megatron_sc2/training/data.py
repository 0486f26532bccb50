"""Feed each data-parallel rank its microbatches, from any consumed-sample position.

Sample order is Megatron's: global batch g holds samples [g*G, (g+1)*G); within it,
microbatch k of DP rank r is the `micro_batch_size` samples starting at
k*micro*dp + r*micro. So a resumed run, or one with another layout, sees the same samples.
"""

from __future__ import annotations

import torch
from torch.utils.data import DataLoader


class MicrobatchSampler:
    def __init__(self, start_sample: int, total_samples: int, micro_batch_size: int, dp_rank: int, dp_size: int):
        self.start, self.total = start_sample, total_samples
        self.micro, self.rank, self.dp = micro_batch_size, dp_rank, dp_size

    def __iter__(self):
        step = self.micro * self.dp
        for first in range(self.start, self.total - step + 1, step):
            begin = first + self.rank * self.micro
            yield list(range(begin, begin + self.micro))

    def __len__(self):
        return max(0, (self.total - self.start) // (self.micro * self.dp))


def microbatches(dataset, *, start_sample: int, total_samples: int, micro_batch_size: int, num_workers: int):
    """An iterator of this DP rank's microbatches (dicts of tensors) from `start_sample` on."""
    from megatron.core import parallel_state

    sampler = MicrobatchSampler(
        start_sample, total_samples, micro_batch_size,
        parallel_state.get_data_parallel_rank(), parallel_state.get_data_parallel_world_size(),
    )
    loader = DataLoader(
        dataset, batch_sampler=sampler, num_workers=num_workers, pin_memory=torch.cuda.is_available(),
        persistent_workers=False,
        # A new iterator draws its workers' base seed from this generator. From the default one, the
        # draw would move the stream hidden dropout uses: a resumed run makes its iterator after the
        # checkpoint's RNG state is loaded, and would drop other units than the uninterrupted run.
        # Samples never depend on that seed (datasets.py: seed, dataset and index only).
        generator=torch.Generator(),
    )
    return iter(loader)
