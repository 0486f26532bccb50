"""Data: tokenizers, StarCoder2 special tokens, FIM, and the training datasets.

Modules are imported directly (`megatron_sc2.data.tokenizer`, ...), so tools that only
tokenize never pay for importing torch or megatron-core.
"""
