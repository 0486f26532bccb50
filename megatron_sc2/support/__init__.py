"""What the repository's tests, benchmarks and acceptance tool share, written once.

- `free_port`, `torchrun_command` (launch.py): a rendezvous port on this machine, and
  `python -m megatron_sc2.pretrain` under torchrun as N ranks on it.
- `stdlib_dataset` (stdlib_data.py): a real code dataset made with no download.
- pii_labelled.py: a labelled PII sample (`python -m megatron_sc2.support.pii_labelled` scores the rules).
"""

from megatron_sc2.support.launch import free_port, torchrun_command
from megatron_sc2.support.stdlib_data import REPO, SMALL, run_tool, stdlib_dataset

__all__ = ["REPO", "SMALL", "free_port", "run_tool", "stdlib_dataset", "torchrun_command"]
