"""Exception families of the shim: one per stage of runtime.md §2, ``str()`` is the whole message.

Every failure ends the same way (§5.4): the message is logged at level ``error`` and written to
stderr as one logfmt line, exit status 1, the low-level runtime is not executed.

The classes are created the first time one is named (:func:`hook.values.lazy_classes`; a call that
succeeds creates none): import the module and name the class where it is raised or caught
(``from . import errors`` ... ``raise errors.ApplyError(...)``).
"""

from __future__ import annotations

from hook.values import lazy_classes

__all__ = ["ShimError", "ConfigLoadError", "RuntimeLookupError", "ConstructError", "ApplyError"]


def _define() -> tuple[type, ...]:
    class ShimError(Exception):
        """A fatal error of the shim; ``str(err)`` is the message (§12)."""

        prefix = ""

        def __init__(self, detail: str) -> None:
            super().__init__(detail)
            self.detail = detail

        def __str__(self) -> str:
            return self.prefix + self.detail

    class ConfigLoadError(ShimError):
        """config.toml cannot be read or is invalid (step 2; reaches stderr only)."""

        prefix = "error loading config: "

    class RuntimeLookupError(ShimError):
        """No low-level runtime candidate resolves (step 5)."""

        prefix = "failed to create NVIDIA Container Runtime: error constructing low-level runtime: "

    class ConstructError(ShimError):
        """The create path cannot build its modifiers: bundle, spec, requests, mode (step 7)."""

        prefix = "failed to create NVIDIA Container Runtime: "

    class ApplyError(ShimError):
        """A modifier failed, or the spec could not be written back (step 8): nothing was written."""

        prefix = "could not apply required modification to OCI specification: "

    return ShimError, ConfigLoadError, RuntimeLookupError, ConstructError, ApplyError


__getattr__ = lazy_classes(globals(), tuple(__all__), _define)
