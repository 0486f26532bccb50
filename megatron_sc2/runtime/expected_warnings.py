"""megatron-core's warnings that tell a user of this stack nothing, hidden by their exact messages.

Each rank prints every Python warning once, so megatron-core's notices reach a log once per rank.
Without CUDA, TransformerEngine and Apex are absent by design: megatron-core's "not installed,
falling back to torch" notices (its optimizers, norms, multi-tensor ops) and its
CUDA_DEVICE_MAX_CONNECTIONS advice describe the CPU plan, which `cpu_backend.activate()` states
once instead. On a GPU those stay: there a missing kernel is worth a warning.

On any device, megatron-core warns about its own default `cuda_graph_scope` ("full"), which this
stack never sets, and (0.19) about an experimental multimodal config it defines on import and, through
torch's loader, about reading a checkpoint's common state in one process; it calls
torch functions that torch marks deprecated (the checkpoint
loader's `load_state_dict`, the distributed optimizer's collectives); its distributed optimizer reads
`.grad` of its parameter shards, which are views, and torch warns about that. On a CPU that last
warning is raised inside the CPU backend's torch function mode, so it is attributed to it.
Call `hide()` before megatron-core is imported.
"""

from __future__ import annotations

import warnings

import torch

MCORE = r"megatron\.core\."
ON_CPU = (
    (UserWarning, r"Transformer Engine and Apex are not installed\. Falling back to ", MCORE),
    (UserWarning, r"Apex is not installed\. Falling back to Torch Norm", MCORE),
    (UserWarning, r"When using .+ it is recommended to set the environment variable CUDA_DEVICE_MAX_CONNECTIONS",
     MCORE),
)
ALWAYS = (
    (UserWarning, r"full scope is deprecated\. Use empty cuda_graph_(scope|modules)", MCORE),  # 0.16 | 0.19
    (UserWarning, r"MimoModelConfig is experimental", MCORE),  # 0.19, on importing megatron.core.models
    # 0.19 reads a checkpoint's common state through torch's loader in one process, positionally
    (UserWarning, r"torch\.distributed is disabled, unavailable or uninitialized, assuming the intent is to load",
     r"torch\.distributed\.checkpoint\."),
    (UserWarning, r"The argument order of load has been changed", r"torch\.distributed\.checkpoint\."),
    (FutureWarning, r"`load_state_dict` is deprecated and will be removed", r"megatron\.core\.dist_checkpointing\."),
    (FutureWarning, r"`torch\.distributed\.(reduce_scatter_tensor|all_gather_into_tensor)` is deprecated",
     r"torch\.distributed\."),
    (UserWarning, r"The \.grad attribute of a Tensor that is not a leaf Tensor is being accessed",
     r"megatron\.core\.optimizer\.|megatron_sc2\.runtime\.cpu_backend$"),
)


def hide() -> None:
    for category, message, module in ALWAYS + (() if torch.cuda.is_available() else ON_CPU):
        warnings.filterwarnings("ignore", message=message, category=category, module=module)
