"""megatron-core's warnings that tell a user of this stack nothing, hidden by their exact messages.

Each rank prints every Python warning once, so megatron-core's notices reach a log once per rank.
Without CUDA, TransformerEngine and Apex are absent by design: megatron-core's "not installed,
falling back to torch" notices (its optimizers, norms, multi-tensor ops) and its
CUDA_DEVICE_MAX_CONNECTIONS advice describe the CPU plan, which `cpu_backend.activate()` states
once instead. On a GPU those stay: there a missing kernel is worth a warning. On any device,
megatron-core 0.16 warns about its own default `cuda_graph_scope` ("full"), which this stack
never sets, and its checkpoint loader calls a torch function that torch marks deprecated.
Call `hide()` before megatron-core is imported.
"""

from __future__ import annotations

import warnings

import torch

ON_CPU = (
    (UserWarning, r"Transformer Engine and Apex are not installed\. Falling back to ", r"megatron\.core\."),
    (UserWarning, r"Apex is not installed\. Falling back to Torch Norm", r"megatron\.core\."),
    (UserWarning, r"When using .+ it is recommended to set the environment variable CUDA_DEVICE_MAX_CONNECTIONS",
     r"megatron\.core\."),
)
ALWAYS = (
    (UserWarning, r"full scope is deprecated\. Use empty cuda_graph_scope", r"megatron\.core\."),
    (FutureWarning, r"`load_state_dict` is deprecated and will be removed", r"megatron\.core\.dist_checkpointing\."),
)


def hide() -> None:
    for category, message, module in ALWAYS + (() if torch.cuda.is_available() else ON_CPU):
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
