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
- 0.19 made the checkpoint writer's results queue public (`get_write_results_queue`; before,
  `_get_write_results_queue`): `start_write_results_queue`.

Private megatron-core names that the whole range shares are reached from here too, so that an
upgrade that drops one fails in this module: `set_cuda_rng_state_with`.
"""

from __future__ import annotations

import functools

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
    """Start the process that serves megatron-core's checkpoint-writer results queue."""
    from megatron.core.dist_checkpointing.strategies import filesystem_async

    start = getattr(filesystem_async, "get_write_results_queue", None)
    (start or filesystem_async._get_write_results_queue)()


def set_cuda_rng_state_with(setter) -> None:
    """Make megatron-core set the CUDA RNG state with `setter(new_state, device=-1, graph_safe=False)`.

    Activation recompute restores it through the private `tensor_parallel.random._set_cuda_rng_state`,
    which without CUDA queues the call until CUDA initializes: forever (the CPU backend's use)."""
    from megatron.core.tensor_parallel import random

    if not hasattr(random, "_set_cuda_rng_state"):
        raise RuntimeError(f"megatron-core {release()} has no tensor_parallel.random._set_cuda_rng_state: "
                           f"megatron_sc2 supports {supported_range()}")
    random._set_cuda_rng_state = setter
