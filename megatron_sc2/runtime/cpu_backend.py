"""Let megatron-core run on a machine without CUDA, with the CPU as its device.

megatron-core assumes a CUDA device: it allocates with `device="cuda"` or
`torch.cuda.current_device()`, checks `tensor.type() == "torch.cuda.FloatTensor"`,
synchronizes streams and keeps its model-parallel RNG states in the CUDA generator
(docs/cpu-backend.md lists what breaks and what is replaced). Rather than patching each of
those call sites, this module states one rule at the torch boundary: when CUDA is
absent, "the CUDA device" means the CPU.

- A torch function mode rewrites CUDA device arguments (factory functions, `.to`,
  `.cuda()`) to the CPU, and reports CPU tensor types under their CUDA names so megatron-core's
  dtype checks see "its device". A mode is off inside its own handler, and so in the backward pass
  that `.backward()` runs: activation recompute, which runs forward code there, enters it again.
- `torch.cuda.current_device` names the CPU; `torch.cuda.current_stream` is the CPU's stream
  (0.19's gradient sync waits on it every step); `torch.cuda.synchronize` has nothing to wait for.
- The model-parallel RNG tracker keeps CPU generator states, with megatron-core's
  `add`/`fork`/`get_states`/`set_states` contract; the CUDA generator's state is the CPU's, so
  activation recompute saves and restores the stream dropout draws from.
- Without TransformerEngine or Apex (always the case here), megatron-core's distributed
  optimizer wraps torch's Adam, whose state (with its `step`) appears only at the first
  step; two wrappers let the reshardable checkpoint format load into a fresh optimizer.

`activate()` does nothing when CUDA is available: GPU runs never touch this module. It checks
that the installed megatron-core is one whose CUDA assumptions this module was verified
against (megatron_sc2.mcore_compat: 0.16.1 to 0.19.x); the private megatron-core names it
replaces are mcore_compat's. `deactivate()` (which `runtime.destroy()` calls) puts every
replaced name back and leaves the mode, so a process can activate again.
"""

from __future__ import annotations

import contextlib
import logging

import torch
from torch.overrides import TorchFunctionMode

from megatron_sc2 import mcore_compat

log = logging.getLogger(__name__)
_undo: contextlib.ExitStack | None = None


def _is_cuda(device) -> bool:
    if isinstance(device, torch.device):
        return device.type == "cuda"
    if isinstance(device, int) and not isinstance(device, bool):
        return True  # a bare index is a CUDA ordinal in torch's device parsing
    return isinstance(device, str) and device.startswith("cuda")


class _CudaIsCpu(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if "device" in kwargs and _is_cuda(kwargs["device"]):
            kwargs["device"] = "cpu"
        if func is torch.Tensor.cuda:
            return args[0]
        if func is torch.Tensor.to and len(args) > 1 and _is_cuda(args[1]):
            args = (args[0], "cpu", *args[2:])
        if func is torch.Tensor.type and len(args) == 1 and not kwargs:
            name = func(*args)
            return name.replace("torch.", "torch.cuda.", 1) if not name.startswith("torch.cuda.") else name
        return func(*args, **kwargs)


def _cpu_rng_tracker_class():
    from megatron.core.tensor_parallel.random import CudaRNGStatesTracker

    mcore_compat.TRACKER_INITIALIZED_FLAG.site()  # the state of megatron-core's tracker this one keeps
    mcore_compat.TRACKER_CURRENT_STATE.site()

    class CpuRNGStatesTracker(CudaRNGStatesTracker):
        """megatron-core's tracker with the CPU generator standing in for the CUDA one."""

        def add(self, name, seed):
            self._is_initialized = True
            if seed in self.seeds_:
                raise RuntimeError(f"seed {seed} already exists")
            self.seeds_.add(seed)
            if name in self.states_:
                raise RuntimeError(f"rng state {name} already exists")
            self.states_[name] = torch.Generator().manual_seed(seed).get_state()

        @contextlib.contextmanager
        def fork(self, name="model-parallel-rng"):
            if name not in self.states_:
                raise RuntimeError(f"rng state {name} is not added")
            outer_state, outer_name = torch.get_rng_state(), self._current_state_name
            torch.set_rng_state(self.states_[name])
            self._current_state_name = name
            try:
                yield
            finally:
                self.states_[name] = torch.get_rng_state()
                torch.set_rng_state(outer_state)
                self._current_state_name = outer_name

    return CpuRNGStatesTracker


def _recompute_in(mode: TorchFunctionMode, undo: contextlib.ExitStack) -> None:
    from megatron.core.tensor_parallel.random import CheckpointFunction

    backward = CheckpointFunction.backward

    def backward_in_mode(ctx, *args):
        with mode:
            return backward(ctx, *args)

    _replace(undo, CheckpointFunction, "backward", staticmethod(backward_in_mode))


def _torch_adam_checkpoint_adapters(undo: contextlib.ExitStack) -> None:
    from megatron.core.optimizer.distrib_optimizer import DistributedOptimizer

    describe, set_states = DistributedOptimizer.sharded_state_dict, mcore_compat.SET_OPTIMIZER_STATES.get()
    init_dummy_states = mcore_compat.DUMMY_OPTIMIZER_STATES.get()

    def sharded_state_dict(self, model_sharded_state_dict=None, is_loading=False, *args, **kwargs):
        # Describing the state for a load needs state to describe: megatron-core's own dummy init.
        if is_loading and not self.optimizer.state:
            init_dummy_states(self)
        return describe(self, model_sharded_state_dict or {}, is_loading, *args, **kwargs)

    def set_main_param_and_optimizer_states(self, model_param, tensors):
        # The checkpoint's tensors omit torch Adam's `step`, which load_state_dict restored from
        # the param groups as ONE tensor shared by every parameter: torch's multi-tensor Adam
        # would then add 1 to it once per parameter. Copy the rest; give each its own step.
        group_index, group_order = self.model_param_group_index_map[model_param]
        state = self.optimizer.state[self.optimizer.param_groups[group_index]["params"][group_order]]
        step = state.pop("step", None)
        try:
            set_states(self, model_param, tensors)
        finally:
            if step is not None:
                state["step"] = step.clone()

    _replace(undo, DistributedOptimizer, "sharded_state_dict", sharded_state_dict)
    _replace(undo, *mcore_compat.SET_OPTIMIZER_STATES.site(), set_main_param_and_optimizer_states)


def _replace(undo: contextlib.ExitStack, owner, name: str, value) -> None:
    """Set `owner.name`; `undo` puts back what was there (or the inherited name, by deleting)."""
    if name in vars(owner):
        undo.callback(setattr, owner, name, vars(owner)[name])
    else:
        undo.callback(delattr, owner, name)
    setattr(owner, name, value)


def active() -> bool:
    return _undo is not None


def activate() -> bool:
    """Adapt megatron-core to the CPU if CUDA is absent; returns whether it did."""
    global _undo
    if torch.cuda.is_available() or _undo is not None:
        return _undo is not None
    mcore_compat.check_supported()
    with contextlib.ExitStack() as undo:  # a failure part-way puts back what was replaced
        _replace(undo, torch.cuda, "current_device", lambda: torch.device("cpu"))
        _replace(undo, torch.cuda, "current_stream", lambda device=None: torch.cpu.current_stream())
        _replace(undo, torch.cuda, "synchronize", lambda device=None: None)
        for owner in (torch.cuda, torch.cuda.random):
            _replace(undo, owner, "get_rng_state", lambda device="cuda": torch.get_rng_state())
        _replace(undo, *mcore_compat.SET_CUDA_RNG_STATE.site(),
                 lambda state, device=-1, graph_safe=False: torch.set_rng_state(state))
        _replace(undo, *mcore_compat.RNG_TRACKER.site(), _cpu_rng_tracker_class()())
        _replace(undo, *mcore_compat.RNG_TRACKER_INITIALIZED.site(), True)
        _torch_adam_checkpoint_adapters(undo)
        mode = _CudaIsCpu()
        _recompute_in(mode, undo)
        undo.enter_context(mode)
        _undo = undo.pop_all()
    log.info("CUDA is absent: megatron-core runs on the CPU (megatron_sc2.runtime.cpu_backend) with its torch "
             "fallbacks for TransformerEngine's and Apex's GPU kernels (torch Adam and norms, unfused multi-tensor "
             "ops), as expected without a GPU")
    return True


def deactivate() -> None:
    """Undo `activate()`: torch and megatron-core as they were, the torch function mode left."""
    global _undo
    if _undo is not None:
        undo, _undo = _undo, None
        undo.close()
