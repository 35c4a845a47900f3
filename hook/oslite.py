"""The few ``os`` and ``os.path`` functions the hook's prestart paths need, on the built-in ``posix``.

``import os`` is the dearest import of a hook run: ``os`` builds ``os.environ`` on
``_collections_abc`` (about 25 abstract base classes and their registrations), ``posixpath``,
``genericpath`` and ``stat``: 6.4 Mi instructions, 0.9 ms of CPU on this machine kind, 15 % of
the interpreter's own start (``python -I -S -c pass`` does not import it).  ``posix``, the C module
``os`` re-exports, is loaded by every interpreter at start.  The hook's prestart paths (non-GPU, and
the GPU path up to the CLI's exec or through the library), the runtime shim's (pass-through, ``create``
in every mode, the ``jit-cdi`` generator included) and every ``nvidia-cdi-hook`` subcommand import this
module instead, and tests keep ``os`` out of them (docs/performance.md "What each import costs", "The
runtime shim").

The functions are ``posix``'s own (same arguments, same errors) or small copies of ``os.path``'s and
``stat``'s for the cases the programs use (``str`` paths; CPython 3.11's behaviour).  The environment is ``posix.environ``, the very dict
``os.environ`` wraps: a process that also imported ``os`` (the tests) sees one environment.
"""

from __future__ import annotations

import sys

from posix import (  # noqa: F401  (re-exported: the hook calls them as oslite.NAME)
    O_APPEND,
    O_CLOEXEC,
    O_CREAT,
    O_DIRECTORY,
    O_EXCL,
    O_NOFOLLOW,
    O_PATH,
    O_RDONLY,
    O_TRUNC,
    O_WRONLY,
    RTLD_LAZY,
    RTLD_LOCAL,
    X_OK,
    _exit,
    _have_functions,
    access,
    chmod,
    close,
    environ,
    execv,
    execve,
    fchmod,
    fchown,
    fork,
    fstat,
    fsync,
    getcwd,
    geteuid,
    getxattr,
    isatty,
    listdir,
    listxattr,
    lstat,
    major,
    minor,
    mkdir,
    open,
    pread,
    putenv,
    read,
    readlink,
    rename,
    setxattr,
    stat,
    stat_result,
    strerror,
    symlink,
    uname,
    unlink,
    unsetenv,
    urandom,
    waitpid,
    waitstatus_to_exitcode,
    write,
)

_ENCODING = sys.getfilesystemencoding()
_ERRORS = sys.getfilesystemencodeerrors()
#: ``stat``'s file types (``S_IFMT(st_mode) == S_IFDIR`` is ``stat.S_ISDIR(st_mode)``).
S_IFDIR, S_IFREG, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO = 0o040000, 0o100000, 0o120000, 0o020000, 0o060000, 0o010000


def S_IFMT(mode: int) -> int:  # noqa: N802 (stat's name)
    """``stat.S_IFMT``: the file type bits of ``mode``."""
    return mode & 0o170000


def S_IMODE(mode: int) -> int:  # noqa: N802 (stat's name)
    """``stat.S_IMODE``: the permission bits of ``mode`` (setuid, setgid and sticky included)."""
    return mode & 0o7777

# ``os.access in os.supports_effective_ids``
EFFECTIVE_IDS = "HAVE_FACCESSAT" in _have_functions


def fsencode(text: str) -> bytes:
    """``os.fsencode`` of a ``str``."""
    return text.encode(_ENCODING, _ERRORS)


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
    """``os.environ.pop(name, None)`` (``unsetenv``, then the dict; nothing when it is not set)."""
    key = name.encode(_ENCODING, _ERRORS)
    if key in environ:
        unsetenv(key)
        del environ[key]


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


def split(path: str) -> tuple[str, str]:
    """``os.path.split``."""
    i = path.rfind("/") + 1
    head, tail = path[:i], path[i:]
    if head and head != "/" * len(head):
        head = head.rstrip("/")
    return head, tail


def dirname(path: str) -> str:
    """``os.path.dirname``."""
    return split(path)[0]


def basename(path: str) -> str:
    """``os.path.basename``."""
    return path[path.rfind("/") + 1:]


def normpath(path: str) -> str:
    """``os.path.normpath``: ``.`` and empty components dropped, ``..`` folded (never above ``/``), two
    leading slashes kept (POSIX leaves their meaning to the system), three or more made one."""
    if not path:
        return "."
    initial = 2 if path.startswith("//") and not path.startswith("///") else 1 if path.startswith("/") else 0
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part != ".." or (not initial and not parts) or (parts and parts[-1] == ".."):
            parts.append(part)
        elif parts:
            parts.pop()
    return "/" * initial + "/".join(parts) or "."


def abspath(path: str) -> str:
    """``os.path.abspath``: joined to the current directory, then :func:`normpath`."""
    return normpath(path if path.startswith("/") else join(getcwd(), path))


def makedirs(name: str, mode: int = 0o777, exist_ok: bool = False) -> None:
    """``os.makedirs``: the missing parents are made with mode ``0o777`` (less the umask), ``name`` with
    ``mode``.  Raises OSError (FileExistsError for an existing ``name`` unless ``exist_ok`` and it is a
    directory)."""
    head, tail = split(name)
    if not tail:
        head, tail = split(head)
    if head and tail and not exists(head):
        try:
            makedirs(head, exist_ok=exist_ok)
        except FileExistsError:  # made meanwhile by another process
            pass
        if tail == ".":
            return
    try:
        mkdir(name, mode)
    except OSError:
        if not exist_ok or not isdir(name):
            raise


def islink(path: str) -> bool:
    """``os.path.islink``."""
    try:
        return S_IFMT(lstat(path).st_mode) == S_IFLNK
    except (OSError, ValueError):
        return False


def lexists(path: str) -> bool:
    """``os.path.lexists``: a dangling symbolic link exists."""
    try:
        lstat(path)
    except (OSError, ValueError):
        return False
    return True


def _mode(path: str) -> int | None:
    try:
        return S_IFMT(stat(path).st_mode)
    except (OSError, ValueError):
        return None


def exists(path: str) -> bool:
    """``os.path.exists``."""
    return _mode(path) is not None


def isfile(path: str) -> bool:
    """``os.path.isfile``."""
    return _mode(path) == S_IFREG


def isdir(path: str) -> bool:
    """``os.path.isdir``."""
    return _mode(path) == S_IFDIR


def realpath(path: str, *, strict: bool = False) -> str:
    """``os.path.realpath`` (CPython 3.11's): the path the kernel gives for ``path`` once opened (symbolic
    links followed) when it can be opened, else ``os.path.realpath``'s walk (below).  ``strict``: raise
    OSError for a missing component or a symbolic link loop."""
    return _real(path, O_PATH | O_CLOEXEC) or abspath(_joinrealpath("", path, strict, {})[0])


def _real(path: str, flags: int) -> str | None:
    """The path ``/proc/self/fd`` gives for ``path`` opened with ``flags``, or None."""
    found = ""
    try:
        fd = open(path, flags)
        try:
            found = readlink(f"/proc/self/fd/{fd}")
        finally:
            close(fd)
    except (OSError, ValueError):
        pass
    return found if found.startswith("/") and not found.endswith(" (deleted)") else None


def _joinrealpath(path: str, rest: str, strict: bool, seen: dict) -> tuple[str, bool]:
    """``posixpath._joinrealpath`` (CPython 3.11): ``path`` joined with ``rest``, every symbolic link of
    ``rest`` resolved (``seen``: link -> its resolution, None while being resolved: a loop)."""
    if rest.startswith("/"):
        rest = rest[1:]
        path = "/"
    while rest:
        name, _, rest = rest.partition("/")
        if not name or name == ".":
            continue
        if name == "..":
            if path:
                path, name = split(path)
                if name == "..":
                    path = join(path, "..", "..")
            else:
                path = ".."
            continue
        newpath = join(path, name)
        try:
            st = lstat(newpath)
        except OSError:
            if strict:
                raise
            is_link = False
        else:
            is_link = S_IFMT(st.st_mode) == S_IFLNK
        if not is_link:
            path = newpath
            continue
        if newpath in seen:
            path = seen[newpath]
            if path is not None:
                continue
            if strict:
                stat(newpath)  # raises OSError(ELOOP)
            else:
                return join(newpath, rest), False
        seen[newpath] = None
        path, ok = _joinrealpath(path, readlink(newpath), strict, seen)
        if not ok:
            return join(path, rest), False
        seen[newpath] = path
    return path, True
