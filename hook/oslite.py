"""The few ``os`` and ``os.path`` functions the hook's prestart paths need, on the built-in ``posix``.

``import os`` is the dearest import of a hook run: ``os`` builds ``os.environ`` on
``_collections_abc`` (about 25 abstract base classes and their registrations), ``posixpath``,
``genericpath`` and ``stat``: 6.4 Mi instructions, 0.9 ms of CPU on this machine kind, 15 % of
the interpreter's own start (``python -I -S -c pass`` does not import it).  ``posix``, the C module
``os`` re-exports, is loaded by every interpreter at start.  The prestart paths (non-GPU, and the
GPU path up to the CLI's exec or through the library) import this module instead, and a test keeps
``os`` out of them (docs/performance.md "What each import costs").

The functions are ``posix``'s own (same arguments, same errors) or small copies of ``os.path``'s
for the cases the hook uses (``str`` paths).  The environment is ``posix.environ``, the very dict
``os.environ`` wraps: a process that also imported ``os`` (the tests) sees one environment.
"""

from __future__ import annotations

import sys

from posix import (  # noqa: F401  (re-exported: the hook calls them as oslite.NAME)
    O_CLOEXEC,
    O_DIRECTORY,
    O_NOFOLLOW,
    O_PATH,
    O_RDONLY,
    RTLD_LAZY,
    RTLD_LOCAL,
    X_OK,
    _exit,
    _have_functions,
    access,
    close,
    environ,
    execve,
    fchmod,
    fstat,
    getcwd,
    isatty,
    listdir,
    mkdir,
    open,
    putenv,
    read,
    readlink,
    stat,
    strerror,
    unsetenv,
)

_ENCODING = sys.getfilesystemencoding()
_ERRORS = sys.getfilesystemencodeerrors()
_S_IFMT, _S_IFDIR, _S_IFREG = 0o170000, 0o040000, 0o100000
# ``os.access in os.supports_effective_ids``
EFFECTIVE_IDS = "HAVE_FACCESSAT" in _have_functions


def fsencode(text: str) -> bytes:
    """``os.fsencode`` of a ``str``."""
    return text.encode(_ENCODING, _ERRORS)


def fsdecode(data: bytes) -> str:
    """``os.fsdecode`` of ``bytes``."""
    return data.decode(_ENCODING, _ERRORS)


# --- the environment (``os.environ``'s view of ``posix.environ``) ---

def getenv(name: str, default: str | None = None) -> str | None:
    """``os.environ.get(name, default)``."""
    value = environ.get(name.encode(_ENCODING, _ERRORS))
    return default if value is None else value.decode(_ENCODING, _ERRORS)


def setenv(name: str, value: str) -> None:
    """``os.environ[name] = value`` (``putenv``, then the dict)."""
    key, data = name.encode(_ENCODING, _ERRORS), value.encode(_ENCODING, _ERRORS)
    putenv(key, data)
    environ[key] = data


def delenv(name: str) -> None:
    """``os.environ.pop(name, None)`` (``unsetenv``, then the dict)."""
    key = name.encode(_ENCODING, _ERRORS)
    unsetenv(key)
    environ.pop(key, None)


def environ_items() -> list[tuple[str, str]]:
    """``list(os.environ.items())``."""
    return [(k.decode(_ENCODING, _ERRORS), v.decode(_ENCODING, _ERRORS)) for k, v in environ.items()]


# --- ``os.path`` for ``str`` paths ---

def join(path: str, *more: str) -> str:
    """``os.path.join``: an absolute part restarts the path."""
    for part in more:
        if part.startswith("/"):
            path = part
        elif not path or path.endswith("/"):
            path += part
        else:
            path += "/" + part
    return path


def dirname(path: str) -> str:
    """``os.path.dirname``."""
    head = path[:path.rfind("/") + 1]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head


def basename(path: str) -> str:
    """``os.path.basename``."""
    return path[path.rfind("/") + 1:]


def _mode(path: str) -> int | None:
    try:
        return stat(path).st_mode & _S_IFMT
    except (OSError, ValueError):
        return None


def exists(path: str) -> bool:
    """``os.path.exists``."""
    return _mode(path) is not None


def isfile(path: str) -> bool:
    """``os.path.isfile``."""
    return _mode(path) == _S_IFREG


def isdir(path: str) -> bool:
    """``os.path.isdir``."""
    return _mode(path) == _S_IFDIR


def realdir(directory: str) -> str:
    """``os.path.realpath(directory)`` for a directory: the path the kernel gives for it (what
    ``getcwd`` returns there), read from ``/proc/self/fd``; ``os.path.realpath`` itself where that
    cannot be read (no ``/proc``, not an openable directory)."""
    path = ""
    try:
        fd = open(directory, O_PATH | O_DIRECTORY | O_CLOEXEC)
        try:
            path = readlink(f"/proc/self/fd/{fd}")
        finally:
            close(fd)
    except (OSError, ValueError):
        pass
    if path.startswith("/") and not path.endswith(" (deleted)"):
        return path
    import os.path  # the rare case pays for ``os``

    return os.path.realpath(directory)
