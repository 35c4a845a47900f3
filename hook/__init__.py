"""A drop-in Python replacement for NVIDIA's ``nvidia-container-runtime-hook``."""

#: The upstream release every program of the project reports and mirrors (``-version``, ``--version``);
#: the package's version too (pyproject.toml reads it from here).
VERSION = "1.20.0"
