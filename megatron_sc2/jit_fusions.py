"""Without CUDA, megatron-core's jit fusions are not compiled when it is imported.

megatron-core decorates its fusions (bias+GELU, bias+dropout+add, ...) with `torch.compile` as
`megatron.core.jit` is imported, and decorating imports TorchDynamo and Inductor: 2 of the 5 CPU
seconds every process pays to import megatron-core. Without CUDA those fusions are switched off
(`model/fusions.py`), so nothing they compile would run. Here megatron-core's own
`disable_jit_fuser()` runs right after `megatron.core.jit` loads, before any fusion is decorated;
with CUDA nothing changes. `megatron_sc2/__init__.py` installs the hook, so it holds in every
process that imports megatron_sc2 before megatron-core (benchmarks/startup.py measures it).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

JIT_MODULE = "megatron.core.jit"


class _SkipFusionCompileWithoutCuda(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name != JIT_MODULE:
            return None
        sys.meta_path.remove(self)  # once: megatron.core.jit loads once
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)  # imports torch before it decorates anything
            import torch

            if not torch.cuda.is_available():
                module.disable_jit_fuser()

        spec.loader.exec_module = exec_module
        return spec


def install() -> None:
    """Before megatron-core is imported; later, megatron-core has already compiled its fusions."""
    if JIT_MODULE not in sys.modules and not any(isinstance(f, _SkipFusionCompileWithoutCuda) for f in sys.meta_path):
        sys.meta_path.insert(0, _SkipFusionCompileWithoutCuda())
