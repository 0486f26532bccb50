"""Plan a launch on a CPU: the real model at the real world size, on torch's fake process group."""

from megatron_sc2.planning.plan import LaunchPlan, plan_launch

__all__ = ["LaunchPlan", "plan_launch"]
