"""The generation tasks by name."""
