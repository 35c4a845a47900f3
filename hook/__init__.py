"""A drop-in Python replacement for NVIDIA's ``nvidia-container-runtime-hook``."""
