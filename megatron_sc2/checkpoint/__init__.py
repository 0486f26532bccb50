"""Checkpoint folders on disk: layout, lock, verification and the restricted unpickler.

The low-level home that training (megatron-core save and load, training/checkpointing.py), conversion and
evaluation share; it imports nothing of theirs.
"""

from megatron_sc2.checkpoint.layout import (
    MARKER,
    PARTIAL_SUFFIX,
    SC2_METADATA,
    CheckpointError,
    acquire,
    complete_iterations,
    iteration_dir,
    iteration_name,
    iterations,
    latest_iteration,
    output,
    partial_dir,
    read_metadata,
    write_marker,
    write_metadata,
)
from megatron_sc2.checkpoint.verify import resolve, verify_checkpoint

__all__ = [
    "MARKER", "PARTIAL_SUFFIX", "SC2_METADATA", "CheckpointError", "acquire", "complete_iterations", "iteration_dir", "iteration_name",
    "iterations", "latest_iteration", "output", "partial_dir", "read_metadata", "resolve", "verify_checkpoint",
    "write_marker", "write_metadata",
]
