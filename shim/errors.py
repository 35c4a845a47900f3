"""Exception families of the shim: one per stage of runtime.md §2, ``str()`` is the whole message.

Every failure ends the same way (§5.4): the message is logged at level ``error`` and written to
stderr as one logfmt line, exit status 1, the low-level runtime is not executed.
"""

from __future__ import annotations


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

