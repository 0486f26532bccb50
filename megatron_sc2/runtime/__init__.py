"""Process groups, launchers, device choice and the CPU backend."""

from megatron_sc2.runtime.distributed import destroy, device, initialize, set_seed
from megatron_sc2.runtime.launch_env import LaunchEnv, detect_launch_env

__all__ = ["LaunchEnv", "destroy", "detect_launch_env", "device", "initialize", "set_seed"]
