"""The sections of tools/gpu_acceptance.py, one module each."""
