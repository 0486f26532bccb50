"""What differs between the megatron-core releases megatron_sc2 supports, 0.16.1 to 0.19.x.

Every version-dependent choice lives here; the rest of the code base is written once against
megatron-core's public API. What changed across the range, and how each is met:

- 0.18+ source installs report `0.19.2+<git sha>`: releases are compared by base version.
- 0.19 keeps a checkpoint's common state inside the torch_dist files (no `common.pt`);
  0.16.1-0.18 read only `common.pt`, so such a checkpoint loads in 0.19 and newer alone
  (`reads_sharded_common_state`). Checkpoints move forward: 0.16.1's load in 0.19.
- 0.17+ `dist_checkpointing.save(async_sharded_save=True)` defaults to NVIDIA's resiliency
  extension (NVRx), and an async request must go to the queue of the writer that made it:
  `async_save_options` and `async_calls_queue` choose the pair once.
- The checkpoint writer's results queue is spawned by every release (newer ones fork it on request,
  without ending it with the rank): `start_write_results_queue` sets its own, forked.
- 0.19's GPTDataset returns a third value from its sample query, the documents' lengths in the
  window: `window_transforming_gpt_dataset` passes on whatever follows the window.

Every private megatron-core name megatron_sc2 reads, replaces or overrides is a `PrivateName` of
`PRIVATE_NAMES`, with the releases it is relied on in; tests/test_mcore_compat.py fails, naming
it, when the installed release lacks one. docs/cpu-backend.md says what the CPU run replaces.
"""

from __future__ import annotations

import ctypes
import dataclasses
import functools
import importlib
import inspect
import os
import signal

from packaging.version import Version

OLDEST = Version("0.16.1")
NEWEST_SERIES = "0.19"  # the newest release series tested
_BEYOND = Version("0.20")
_SHARDED_COMMON_STATE = Version("0.19")
_ASYNC_STRATEGY_CHOICE = Version("0.17")


def release(text: str | None = None) -> Version:
    """The installed (or given) megatron-core release, without a local `+<git sha>` or rc tag."""
    if text is None:
        import megatron.core

        text = megatron.core.__version__
    return Version(Version(text).base_version)


def supported_range() -> str:
    return f"{OLDEST} to {NEWEST_SERIES}.x"


def check_supported(text: str | None = None) -> None:
    installed = release(text)
    if not OLDEST <= installed < _BEYOND:
        raise RuntimeError(
            f"megatron-core {text or installed} is installed; megatron_sc2 supports {supported_range()}: "
            f"pip install 'megatron-core>={OLDEST},<{_BEYOND}'"
        )


def reads_sharded_common_state() -> bool:
    """Whether this release reads a checkpoint whose common state is in the torch_dist files."""
    return release() >= _SHARDED_COMMON_STATE


@functools.cache
def async_strategy() -> str | None:
    """The background checkpoint writer: NVRx where megatron-core offers it and it is installed,
    else megatron-core's own; None before 0.17, whose save() has only its own."""
    if release() < _ASYNC_STRATEGY_CHOICE:
        return None
    from megatron.core.dist_checkpointing.strategies.torch import get_async_strategy

    try:
        get_async_strategy("nvrx")
    except ImportError:  # not installed, or a version without the API megatron-core uses
        return "mcore"
    return "nvrx"


def async_save_options() -> dict:
    """The keyword arguments of `dist_checkpointing.save` for a background save."""
    strategy = async_strategy()
    return {"async_sharded_save": True, **({"async_strategy": strategy} if strategy else {})}


def async_calls_queue():
    """The queue that runs and finalizes the requests of `async_save_options` saves."""
    strategy = async_strategy()
    if strategy is None:
        from megatron.core.dist_checkpointing.strategies.async_utils import AsyncCallsQueue
    else:
        from megatron.core.dist_checkpointing.strategies.torch import get_async_strategy

        AsyncCallsQueue = get_async_strategy(strategy)[1]["AsyncCallsQueue"]
    return AsyncCallsQueue()


def start_write_results_queue() -> None:
    """Start megatron-core's checkpoint-writer results queue, its server forked from this process
    (Megatron-LM forks it too) and ending with it. Spawned, megatron-core's default, the server is
    another interpreter on every rank, which imports torch when the first save's results reach it:
    about 3 CPU s and a 3 s wait per rank (benchmarks/results_queue.py); and either way it outlived
    a rank that died without exiting (SIGKILL, the OOM killer, the watchdog's exit). Call it before
    any thread or process group exists."""
    import multiprocessing
    from multiprocessing.managers import SyncManager

    if RESULTS_QUEUE.get() is None:
        manager = SyncManager(ctx=multiprocessing.get_context("fork"))
        manager.start(_end_with_parent, (os.getpid(),))
        setattr(*RESULTS_QUEUE.site(), manager.Queue())  # the queue's proxy keeps the manager


def _end_with_parent(parent: int) -> None:
    """In the queue's server: SIGKILL when the rank that forked it dies (Linux's PR_SET_PDEATHSIG)."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent:  # it died before the request
        os._exit(0)


@dataclasses.dataclass(frozen=True)
class PrivateName:
    """A name megatron-core does not publish, that megatron_sc2 relies on from `since` up to `until`."""

    owner: str  # a module, or `module:Class`
    name: str
    use: str  # what megatron_sc2 does with it
    since: Version = OLDEST
    until: Version = _BEYOND  # the first release without it
    instance: bool = False  # an attribute the owner's code assigns to `self`

    def __str__(self) -> str:
        return f"{self.owner.replace(':', '.')}.{self.name}"

    def relied_on(self) -> bool:
        return self.since <= release() < self.until

    def owner_object(self):
        module, _, cls = self.owner.partition(":")
        owner = importlib.import_module(module)
        return getattr(owner, cls) if cls else owner

    def exists(self) -> bool:
        owner = self.owner_object()
        if self.instance:
            return f"self.{self.name} =" in inspect.getsource(owner)
        return hasattr(owner, self.name)

    def site(self) -> tuple[object, str]:
        """(owner, name) to replace the name at, after checking that the installed release has it."""
        if not self.exists():
            raise RuntimeError(f"megatron-core {release()} has no {self} ({self.use}): megatron_sc2 supports "
                               f"{supported_range()}")
        return self.owner_object(), self.name

    def get(self):
        return getattr(*self.site())


_RANDOM = "megatron.core.tensor_parallel.random"
_DISTRIBUTED_OPTIMIZER = "megatron.core.optimizer.distrib_optimizer:DistributedOptimizer"
SET_CUDA_RNG_STATE = PrivateName(
    _RANDOM, "_set_cuda_rng_state", "the CPU backend: activation recompute restores the RNG state through it, "
    "which without CUDA would queue the call until CUDA initializes (forever)")
RNG_TRACKER = PrivateName(_RANDOM, "_CUDA_RNG_STATE_TRACKER", "the CPU backend installs its CPU RNG tracker")
RNG_TRACKER_INITIALIZED = PrivateName(_RANDOM, "_CUDA_RNG_STATE_TRACKER_INITIALIZED",
                                      "the CPU backend: megatron-core keeps the installed tracker")
TRACKER_INITIALIZED_FLAG = PrivateName(f"{_RANDOM}:CudaRNGStatesTracker", "_is_initialized",
                                       "the CPU RNG tracker's add()", instance=True)
TRACKER_CURRENT_STATE = PrivateName(f"{_RANDOM}:CudaRNGStatesTracker", "_current_state_name",
                                    "the CPU RNG tracker's fork()", instance=True)
SET_OPTIMIZER_STATES = PrivateName(
    _DISTRIBUTED_OPTIMIZER, "_set_main_param_and_optimizer_states",
    "the CPU backend: each parameter's torch Adam `step` of its own after a checkpoint load")
DUMMY_OPTIMIZER_STATES = PrivateName(
    _DISTRIBUTED_OPTIMIZER, "_init_optimizer_states_with_dummy_values",
    "the CPU backend: torch Adam's state exists before a checkpoint load describes it")
SAMPLE_QUERY = PrivateName("megatron.core.datasets.gpt_dataset:GPTDataset", "_query_document_sample_shuffle_indices",
                           "FIM rewrites each sample's token window (window_transforming_gpt_dataset)")
PAD_TOKEN_ID = PrivateName("megatron.core.datasets.megatron_dataset:MegatronDataset", "_pad_token_id",
                           "FIM leaves the padding that ends a window alone", instance=True)
RESULTS_QUEUE = PrivateName(
    "megatron.core.dist_checkpointing.strategies.filesystem_async", "_results_queue",
    "the checkpoint writer's results queue, forked and ending with the rank")
PRIVATE_NAMES = (SET_CUDA_RNG_STATE, RNG_TRACKER, RNG_TRACKER_INITIALIZED, TRACKER_INITIALIZED_FLAG,
                 TRACKER_CURRENT_STATE, SET_OPTIMIZER_STATES, DUMMY_OPTIMIZER_STATES, SAMPLE_QUERY, PAD_TOKEN_ID,
                 RESULTS_QUEUE)


@functools.cache
def window_transforming_gpt_dataset() -> type:
    """megatron-core's GPTDataset with a hook on each sample's token window, `transform_window`."""
    from megatron.core.datasets.gpt_dataset import GPTDataset

    SAMPLE_QUERY.site()
    PAD_TOKEN_ID.site()

    class WindowTransformingGPTDataset(GPTDataset):
        def transform_window(self, window, idx: int):
            """The window (its pad ids, `pad_token_id`, trail) rewritten, in place or anew."""
            raise NotImplementedError

        @property
        def pad_token_id(self) -> int:
            return self._pad_token_id

        def _query_document_sample_shuffle_indices(self, idx: int) -> tuple:
            # (window, document ids), plus from 0.19 the documents' lengths in the window, read
            # only by its inter-document masking, which megatron_sc2's datasets leave off.
            window, *rest = super()._query_document_sample_shuffle_indices(idx)
            return self.transform_window(window, idx), *rest

    return WindowTransformingGPTDataset
