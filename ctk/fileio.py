"""Atomic, backed-up, locked file writes and removals that keep what the file had.

A write goes to a temporary file in the target's directory, gets the owner, extended
attributes (SELinux label, POSIX ACL, ``user.*``) and mode (setuid/setgid/sticky included)
of the file it replaces (or ``0644`` minus the umask for a new file), is flushed with
``fsync`` and renamed over the target; the directory is then synced.  Whatever happens
before the rename, the original file is intact; a failed write leaves no temporary file
behind, and :func:`remove_stale_temps` removes those a killed run left.  Symbolic links are
followed: the link stays, its target is written or removed.  Missing directories are
created at most ``0755`` whatever the umask, and reported so they can be removed again.
Before an existing file is replaced or removed, its previous content is copied to the
backup directory (see :func:`backup_path`), no more readable than the file itself.
Writers of the same file are serialised with :func:`locked`.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from hook import atomicfile
from hook.atomicfile import Meta

from .common import log
from . import errors

#: Mode of a new file (minus the umask); of a directory we create (minus the umask).
NEW_FILE_MODE = 0o644
NEW_DIR_MODE = 0o755


@dataclass(frozen=True, slots=True)
class WriteResult:
    path: str
    backup: str | None
    changed: bool
    created_dirs: tuple[str, ...] = ()


def read_optional(path: str, error: type[Exception] | None = None) -> bytes | None:
    """The content of ``path``, or None if it does not exist.

    Raises ``error`` (default :class:`~ctk.errors.WriteError`) for a directory or an unreadable file.
    """
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise (error or errors.WriteError)(f"unable to read config: read {path}: is a directory") from None
    except OSError as exc:
        raise (error or errors.WriteError)(f"unable to read config: {path}: {exc.strerror}") from None


def backup_path(backup_dir: str, path: str) -> str:
    """Where the previous content of ``path`` is kept: one file per target, the latest wins."""
    name = os.path.abspath(path).strip("/").replace("%", "%25").replace("/", "%2F")
    return os.path.join(backup_dir, name)


def private_mode(*modes: int) -> int:
    """Mode of a file holding the bytes of files with ``modes``: owner read/write at most,
    and no more than any of them allows (owner read is always kept)."""
    m = 0o600
    for x in modes:
        m &= x
    return m | 0o400


def _write_new(path: str, data: bytes, meta: Meta) -> None:
    skipped = atomicfile.write(path, data, meta)
    for name, reason in skipped:
        log.debug("not keeping extended attribute %s: %s", name, reason)


def make_dirs(d: str, mode: int = NEW_DIR_MODE) -> tuple[str, ...]:
    """Create ``d`` and its missing parents, each with ``mode`` minus the umask (``os.makedirs``
    would give the parents ``0777`` minus the umask).  Returns the directories created,
    outermost first.  Raises :class:`WriteError`."""
    missing = []
    p = os.path.abspath(d)
    while not os.path.isdir(p):
        missing.append(p)
        parent = os.path.dirname(p)
        if parent == p:
            break
        p = parent
    created = []
    for p in reversed(missing):
        try:
            os.mkdir(p, mode)
        except FileExistsError:
            if not os.path.isdir(p):
                raise errors.WriteError(f"unable to create directory {d}: {p} is not a directory") from None
            continue
        except OSError as exc:
            raise errors.WriteError(f"unable to create directory {d}: {exc.strerror}") from None
        created.append(p)
    return tuple(created)


def remove_empty_dirs(dirs: Iterable[str]) -> list[str]:
    """Remove each of ``dirs`` that is empty, innermost first; returns those removed."""
    removed = []
    for d in sorted(set(dirs), key=len, reverse=True):
        try:
            os.rmdir(d)
        except OSError:
            continue
        removed.append(d)
    return removed


def write_atomic(path: str, data: bytes, backup_dir: str | None = None,
                 mode: int | None = None, dir_mode: int = NEW_DIR_MODE) -> WriteResult:
    """Replace ``path`` with ``data`` atomically, keeping owner, xattrs and mode (or setting
    ``mode`` when given); back up the old content.

    Symbolic links are followed (the link stays, its target is replaced).  Nothing is
    written when the content is already ``data``.  Raises :class:`WriteError`.
    """
    target = os.path.realpath(path)
    try:
        st = os.stat(target)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise errors.WriteError(f"unable to write {path}: {exc.strerror}") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise errors.WriteError(f"unable to write {path}: is a directory")
    old = read_optional(target) if st is not None else None
    if old == data and (mode is None or st is None or stat.S_IMODE(st.st_mode) == mode):
        return WriteResult(path, None, False)
    created = make_dirs(os.path.dirname(target) or ".", dir_mode)
    backup = None
    if old is not None and backup_dir:
        backup = _backup(path, old, backup_dir, stat.S_IMODE(st.st_mode))
    try:
        if st is not None:
            meta = atomicfile.meta_of(target, st)
            if mode is not None:
                meta = meta.replace(mode=mode)
        else:
            umask = os.umask(0)
            os.umask(umask)
            meta = Meta((NEW_FILE_MODE if mode is None else mode) & ~umask)
        _write_new(target, data, meta)
    except OSError as exc:
        raise errors.WriteError(f"unable to write {path}: {exc.strerror or exc}") from None
    return WriteResult(path, backup, True, created)


def _backup(path: str, old: bytes, backup_dir: str, src_mode: int) -> str:
    bpath = backup_path(backup_dir, path)
    try:
        make_dirs(backup_dir, 0o700)
        remove_stale_temps(bpath)           # backups are written under the target's lock
        _write_new(bpath, old, Meta(private_mode(src_mode)))
    except OSError as exc:
        raise errors.WriteError(f"unable to back up {path} to {bpath}: {exc.strerror or exc}") from None
    return bpath


def remove(path: str, backup_dir: str | None = None) -> WriteResult:
    """Remove ``path`` (absent is fine), backing its content up first.  A symbolic link is
    kept and its target removed.  Raises :class:`WriteError`."""
    target = os.path.realpath(path)
    old = read_optional(target)
    if old is None:
        return WriteResult(path, None, False)
    backup = _backup(path, old, backup_dir, stat.S_IMODE(os.stat(target).st_mode)) if backup_dir else None
    try:
        os.unlink(target)
    except FileNotFoundError:
        return WriteResult(path, backup, False)
    except OSError as exc:
        raise errors.WriteError(f"unable to remove {path}: {exc.strerror}") from None
    atomicfile.fsync_dir(os.path.dirname(target))
    return WriteResult(path, backup, True)


def remove_stale_temps(path: str) -> list[str]:
    """Remove the temporary files a killed writer of ``path`` left beside its target
    (``.<name>.XXXXXXXX.tmp``, regular, ours).  Call it only while holding :func:`locked`
    for ``path``: then no live writer of ``path`` has one.  Returns the files removed."""
    target = os.path.realpath(path)
    d, name = os.path.split(target)
    pattern = re.compile(re.escape("." + name + ".") + atomicfile.TEMP_RANDOM + re.escape(atomicfile.TEMP_SUFFIX))
    removed = []
    try:
        entries = os.listdir(d)
    except OSError:
        return removed
    for e in entries:
        if not pattern.fullmatch(e):
            continue
        p = os.path.join(d, e)
        try:
            st = os.lstat(p)
            if not stat.S_ISREG(st.st_mode) or st.st_uid != os.geteuid():
                continue
            os.unlink(p)
        except OSError:
            continue
        log.info("Removed stale temporary file %s", p)
        removed.append(p)
    return removed


def check_writable(path: str) -> None:
    """Raise :class:`WriteError` if ``path`` cannot be created or replaced (checked before
    any file of a multi-file update is written, so a read-only directory writes nothing).
    The probe is an unnamed file (``O_TMPFILE``): nothing is left behind even if killed."""
    target = Path(os.path.realpath(path))
    d = target.parent
    while not d.exists() and d != d.parent:
        d = d.parent
    if not os.access(d, os.W_OK | os.X_OK):
        raise errors.WriteError(f"unable to write {path}: directory {d} is not writable")
    if not d.is_dir():
        return
    try:
        fd = os.open(d, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR):
            raise errors.WriteError(f"unable to write {path}: {exc.strerror}") from None
        try:
            fd, tmp = tempfile.mkstemp(prefix=".nvidia-ctk-probe.", dir=str(d))
        except OSError as exc2:
            raise errors.WriteError(f"unable to write {path}: {exc2.strerror}") from None
        os.unlink(tmp)
    os.close(fd)


@contextmanager
def locked(paths: Iterable[str], lock_dir: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` per file of ``paths`` (by real path) while the body runs.

    The lock files are ``<lock_dir>/<hash of the real path>.lock``: never beside the file
    (CRI-O reads every file of ``crio.conf.d``; ``/etc`` may be read-only), never deleted
    (deleting a lock file lets two writers hold "the" lock at once).  Locks are taken in a
    fixed order, so two runs locking the same files cannot deadlock.  Raises :class:`WriteError`.
    """
    keys = {}
    for p in paths:
        if p:
            real = os.path.realpath(p)
            keys[atomicfile.sha256(real.encode())[:32]] = real
    fds = []
    try:
        make_dirs(lock_dir, 0o700)
        for key in sorted(keys):
            lp = os.path.join(lock_dir, key + ".lock")
            try:
                fd = os.open(lp, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise errors.WriteError(f"unable to lock {keys[key]}: {lp}: {exc.strerror}") from None
            fds.append(fd)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                log.info("Waiting for another nvidia-ctk to finish with %s", keys[key])
                fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        for fd in fds:
            os.close(fd)
