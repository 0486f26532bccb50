"""A rendezvous on this machine: a free port, and the torchrun command of the pretrain entry point."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from megatron_sc2.runtime.launch_env import free_port

__all__ = ["free_port", "torchrun_command"]


def torchrun_command(nproc: int, args: Sequence, python: str = sys.executable) -> list[str]:
    """`python -m megatron_sc2.pretrain ARGS` as `nproc` ranks of one torchrun agent on this machine."""
    return [python, "-m", "torch.distributed.run", f"--nproc-per-node={nproc}", "--master-addr=127.0.0.1",
            f"--master-port={free_port()}", "-m", "megatron_sc2.pretrain", *map(str, args)]
