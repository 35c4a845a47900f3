"""Failure families of the CDI commands; ``str()`` is the user's one-line message (exit 1)."""

from __future__ import annotations

__all__ = ["CdiError", "UsageError", "GenerateError", "NvmlError", "NvmlNotFoundError", "HookError"]


class CdiError(Exception):
    """Base of every CDI failure."""


class UsageError(CdiError, ValueError):
    """Bad flags or flag values."""


class GenerateError(CdiError):
    """Discovery or spec generation failed."""


class NvmlError(GenerateError):
    """NVML could not be loaded or a call failed."""


class NvmlNotFoundError(NvmlError):
    """There is no ``libnvidia-ml.so.1`` under the driver root (or no NVML binding to load it with)."""


class HookError(CdiError):
    """A CDI hook failed."""
