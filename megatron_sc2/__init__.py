"""megatron_sc2: the StarCoder2 pretraining stack on megatron-core."""

from megatron_sc2 import jit_fusions

jit_fusions.install()

__version__ = "0.1.0"
