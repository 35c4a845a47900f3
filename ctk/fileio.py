"""Atomic, backed-up file writes and removals.

A write goes to a temporary file in the target's directory, is flushed with ``fsync``,
gets the mode and owner of the file it replaces (or ``0644`` for a new file) and is
renamed over the target; the directory is then synced.  Whatever happens before the
rename, the original file is intact; a failed write leaves no temporary file behind.
Before an existing file is replaced or removed, its previous content is copied to the
backup directory (see :func:`backup_path`).
"""

from __future__ import annotations

import os
import signal
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import WriteError

#: Fault injection for tests: ``kill-before-rename`` makes the process SIGKILL itself after
#: the temporary file is complete but before it replaces the target.
FAULT_ENV = "NVIDIA_CTK_FAULT"


@dataclass(frozen=True, slots=True)
class WriteResult:
    path: str
    backup: str | None
    changed: bool


def read_optional(path: str, error: type[Exception] = WriteError) -> bytes | None:
    """The content of ``path``, or None if it does not exist.

    Raises ``error`` (default :class:`WriteError`) for a directory or an unreadable file.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise error(f"unable to read config: read {path}: is a directory") from None
    except OSError as exc:
        raise error(f"unable to read config: {path}: {exc.strerror}") from None



def backup_path(backup_dir: str, path: str) -> str:
    """Where the previous content of ``path`` is kept: one file per target, the latest wins."""
    name = os.path.abspath(path).strip("/").replace("%", "%25").replace("/", "%2F")
    return os.path.join(backup_dir, name)


def _fsync_dir(d: str) -> None:
    try:
        fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_new(path: str, data: bytes, mode: int, uid: int | None, gid: int | None) -> None:
    d = os.path.dirname(path) or "."
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fchmod(f.fileno(), mode)
            if uid is not None and gid is not None and (uid, gid) != (os.geteuid(), os.getegid()):
                try:
                    os.fchown(f.fileno(), uid, gid)
                except PermissionError:
                    pass
            os.fsync(f.fileno())
        if os.environ.get(FAULT_ENV) == "kill-before-rename":
            os.kill(os.getpid(), signal.SIGKILL)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _fsync_dir(d)


def _mkdirs(d: str) -> None:
    try:
        os.makedirs(d, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"unable to create directory {d}: {exc.strerror}") from None


def write_atomic(path: str, data: bytes, backup_dir: str | None = None) -> WriteResult:
    """Replace ``path`` with ``data`` atomically; keep mode/owner; back up the old content.

    Symbolic links are followed (the link stays, its target is replaced).  Nothing is
    written when the content is already ``data``.  Raises :class:`WriteError`.
    """
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise WriteError(f"unable to write {path}: {exc.strerror}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise WriteError(f"unable to write {path}: is a directory")
    old = read_optional(target) if st is not None else None
    if old == data:
        return WriteResult(path, None, False)
    _mkdirs(os.path.dirname(target) or ".")
    backup = None
    if old is not None and backup_dir:
        backup = _backup(path, old, backup_dir)
    if st is not None:
        mode, uid, gid = stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid
    else:
        umask = os.umask(0)
        os.umask(umask)
        mode, uid, gid = 0o666 & ~umask, None, None
    try:
        _write_new(target, data, mode, uid, gid)
    except OSError as exc:
        raise WriteError(f"unable to write {path}: {exc.strerror or exc}") from None
    return WriteResult(path, backup, True)


def _backup(path: str, old: bytes, backup_dir: str) -> str:
    bpath = backup_path(backup_dir, path)
    try:
        _mkdirs(backup_dir)
        _write_new(bpath, old, 0o600, None, None)
    except OSError as exc:
        raise WriteError(f"unable to back up {path} to {bpath}: {exc.strerror or exc}") from None
    return bpath


def remove(path: str, backup_dir: str | None = None) -> WriteResult:
    """Remove ``path`` (absent is fine), backing its content up first.  Raises :class:`WriteError`."""
    old = read_optional(path)
    if old is None:
        return WriteResult(path, None, False)
    backup = _backup(path, old, backup_dir) if backup_dir else None
    try:
        os.unlink(path)
    except FileNotFoundError:
        return WriteResult(path, backup, False)
    except OSError as exc:
        raise WriteError(f"unable to remove {path}: {exc.strerror}") from None
    _fsync_dir(os.path.dirname(os.path.abspath(path)))
    return WriteResult(path, backup, True)


def check_writable(path: str) -> None:
    """Raise :class:`WriteError` if ``path`` cannot be created or replaced (checked before
    any file of a multi-file update is written, so a read-only directory writes nothing)."""
    target = Path(os.path.realpath(path))
    d = target.parent
    while not d.exists() and d != d.parent:
        d = d.parent
    if not os.access(d, os.W_OK | os.X_OK):
        raise WriteError(f"unable to write {path}: directory {d} is not writable")
    if d.is_dir():
        try:
            fd, tmp = tempfile.mkstemp(prefix=".nvidia-ctk-probe.", dir=str(d))
        except OSError as exc:
            raise WriteError(f"unable to write {path}: {exc.strerror}") from None
        os.close(fd)
        os.unlink(tmp)
