"""megatron_sc2: the StarCoder2 pretraining stack on megatron-core."""

__version__ = "0.1.0"
