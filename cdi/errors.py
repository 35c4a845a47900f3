"""Failure families of the CDI commands; ``str()`` is the user's one-line message (exit 1).

The classes are created the first time one is named (:func:`hook.values.lazy_classes`; a CDI hook
that succeeds creates none): import the module and name the class where it is raised or caught
(``from . import errors`` ... ``raise errors.HookError(...)``).
"""

from __future__ import annotations

from hook.values import lazy_classes

__all__ = ["CdiError", "UsageError", "GenerateError", "NvmlError", "NvmlNotFoundError", "HookError",
           "UnresolvableError"]


def _define() -> tuple[type, ...]:
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

    class UnresolvableError(CdiError):
        """A requested device is defined by no valid spec (or by two of one priority): :mod:`cdi.registry`."""

    return CdiError, UsageError, GenerateError, NvmlError, NvmlNotFoundError, HookError, UnresolvableError


__getattr__ = lazy_classes(globals(), tuple(__all__), _define)
