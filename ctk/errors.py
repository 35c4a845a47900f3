"""Exception types of the runtime-configuration package.

Every error a user can cause is a :class:`CtkError`; its ``str()`` is one line that
the CLI prints (as a log line) before exiting 1.  Nothing else escapes to users.

The classes are created the first time one is named (:func:`hook.values.lazy_classes`): import the
module and name the class where it is raised or caught (``from . import errors`` ...
``raise errors.WriteError(...)``).
"""

from __future__ import annotations

from hook.values import lazy_classes

__all__ = ["CtkError", "UsageError", "ConfigLoadError", "ConfigContentError", "SourceError", "WriteError",
           "ConfigChangedError", "StateError", "RestartError", "InstallError"]


def _define() -> tuple[type, ...]:
    class CtkError(Exception):
        """Base class: a failure reported to the user as one line."""

        def __str__(self) -> str:  # one line, always
            text = super().__str__()
            return " ".join(text.split("\n")) if text else type(self).__name__

    class UsageError(CtkError):
        """Invalid command-line flags or flag values."""

    class ConfigLoadError(CtkError):
        """A runtime configuration (file, drop-ins or command output) cannot be read or parsed."""

    class ConfigContentError(CtkError):
        """A runtime configuration parses but has a value of the wrong type where we must edit."""

    class SourceError(ConfigLoadError):
        """A config source (command, file) failed; raised by :mod:`ctk.sources`."""

    class WriteError(CtkError):
        """A file could not be written, replaced, backed up or removed."""

    class ConfigChangedError(CtkError):
        """The configuration changed between reading it and writing the update (fingerprint mismatch)."""

    class StateError(CtkError):
        """The recorded state of a previous configure run is unusable."""

    class RestartError(CtkError):
        """The container runtime could not be restarted or signalled."""

    class InstallError(CtkError):
        """The toolkit could not be installed into (or removed from) the target directory."""

    return (CtkError, UsageError, ConfigLoadError, ConfigContentError, SourceError, WriteError, ConfigChangedError,
            StateError, RestartError, InstallError)


__getattr__ = lazy_classes(globals(), tuple(__all__), _define)
