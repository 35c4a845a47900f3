"""Exception families of the hook.

Every failure the hook reports is a :class:`HookError` whose ``str()`` is the
exact one-line (sometimes two-line) message written to stderr before exiting
with status 1.  The subclasses say which stage failed; callers that only print
and exit catch :class:`HookError`.

The classes are created the first time one is named (:func:`hook.values.lazy_classes`): a run
that succeeds creates none.  Import the module and name the class where it is raised or caught
(``from . import errors`` ... ``raise errors.ConfigError(...)``), not ``from .errors import ...``.
"""

from __future__ import annotations

from .values import lazy_classes

__all__ = ["HookError", "ConfigError", "StateError", "SpecError", "ImageError", "CdiNameError", "ModeError",
           "CliError", "UsageError"]


def _define() -> tuple[type, ...]:
    class HookError(Exception):
        """A fatal error of ``prestart``: ``str(err)`` is the message, exit status 1.

        ``detail`` is the message without the hook's own prefix (what another program reading the
        same input, the runtime shim or a CDI hook, words in its own way)."""

        def __init__(self, message: str, detail: str | None = None) -> None:
            super().__init__(message)
            self.message = message
            self.detail = message if detail is None else detail

        def __str__(self) -> str:
            return self.message

    class ConfigError(HookError):
        """The hook's config.toml is missing (when required), unreadable, malformed or invalid.

        ``str()`` is the hook's message; ``detail`` is the same without the hook's prefixes (what the
        runtime shim, which reads the same file, prints)."""

    class StateError(HookError):
        """The OCI state on stdin cannot be decoded."""

    class SpecError(HookError):
        """The bundle's config.json cannot be opened, decoded or is incomplete."""

    class ImageError(HookError):
        """The container's request is invalid (environment, MIG, capabilities, requirements)."""

    class CdiNameError(ImageError):
        """A request upstream crashes on: a one-letter CDI vendor or class (:mod:`hook.cdi`)."""

    class ModeError(HookError):
        """The runtime mode is not 'legacy': the hook refuses to run."""

    class CliError(HookError):
        """``nvidia-container-cli`` cannot be found or executed."""

    class UsageError(Exception):
        """Bad command line: ``str(err)`` is the message (may be empty); exit status 2 after the usage text."""

    return HookError, ConfigError, StateError, SpecError, ImageError, CdiNameError, ModeError, CliError, UsageError


__getattr__ = lazy_classes(globals(), tuple(__all__), _define)
