"""Pretraining: the loop, context-length stages, checkpoints, metrics."""
