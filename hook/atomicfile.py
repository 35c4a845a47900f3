"""Atomic file replacement: the one core every writer of the project builds on.

:func:`write` puts the bytes in a temporary file in the target's directory
(``.<name>.XXXXXXXX.tmp``, created ``O_EXCL``, mode ``0600``), gives it the owner, extended
attributes and mode of :class:`Meta` (usually :func:`meta_of` the file it replaces), ``fsync``\\ s
it, renames it over the target and (unless told not to) syncs the directory: whatever happens before the rename, the
target is intact, and a failed write leaves no temporary file.  :func:`symlink` replaces a symbolic
link the same way; :func:`sha256` is the fingerprint writers record of what they wrote.

Cheap to import (:mod:`hook.oslite` only: no ``os``, no ``tempfile``): the runtime shim rewrites
``config.json`` with it on its ``create`` path.  :mod:`ctk.fileio` adds backups, locks and symlink-following on top;
``shim.ocispec``, ``cdi`` and ``freeze.install`` use it directly.  Raises :class:`OSError`.
"""

from __future__ import annotations

import errno

from . import oslite
from .values import Value

__all__ = ["Meta", "meta_of", "write", "symlink", "links_to", "fsync_dir", "sha256", "TEMP_SUFFIX", "TEMP_RANDOM"]

TEMP_SUFFIX = ".tmp"
#: The random part of a temporary file's name, as a regular expression (``tempfile``'s alphabet).
TEMP_RANDOM = "[a-z0-9_]{8}"
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789_"


class Meta(Value, frozen=True):
    """What a written file gets: mode (setuid/setgid/sticky included), owner (None: the writer's),
    extended attributes (SELinux label, POSIX ACL, ``user.*``)."""

    mode: int = 0o644
    uid: int | None = None
    gid: int | None = None
    xattrs: tuple[tuple[str, bytes], ...] = ()


def meta_of(path: str, st: oslite.stat_result) -> Meta:
    """The :class:`Meta` of the existing file ``path`` (``st``: its ``stat``)."""
    xattrs = []
    try:
        names = oslite.listxattr(path)
    except OSError:
        names = []
    for name in names:
        try:
            xattrs.append((name, oslite.getxattr(path, name)))
        except OSError:
            continue
    return Meta(oslite.S_IMODE(st.st_mode), st.st_uid, st.st_gid, tuple(xattrs))


def _apply(fd: int, meta: Meta) -> list[tuple[str, str]]:
    """Owner first (chown clears setuid/setgid and file capabilities), then the extended
    attributes, then the mode (which also brings the ACL mask back to the group bits).  Returns
    the attributes skipped, with the reason: the ``security.*``/``trusted.*`` ones an unprivileged
    writer cannot set."""
    if meta.uid is not None and meta.gid is not None:
        st = oslite.fstat(fd)
        if (st.st_uid, st.st_gid) != (meta.uid, meta.gid):
            try:
                oslite.fchown(fd, meta.uid, meta.gid)
            except PermissionError:
                pass
    skipped = []
    for name, value in meta.xattrs:
        try:
            oslite.setxattr(fd, name, value)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.EACCES, errno.ENOTSUP) or name.startswith("user."):
                raise
            skipped.append((name, exc.strerror))
    oslite.fchmod(fd, meta.mode)
    return skipped


def _temp_name(path: str) -> str:
    d, name = oslite.split(path)
    rand = "".join(_ALPHABET[b % len(_ALPHABET)] for b in oslite.urandom(8))
    return oslite.join(d, f".{name}.{rand}{TEMP_SUFFIX}")


def _create(path: str, make) -> str:
    """A fresh temporary name beside ``path``, created by ``make(name)`` (which raises
    FileExistsError for a name taken)."""
    for _ in range(100):
        tmp = _temp_name(path)
        try:
            make(tmp)
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(errno.EEXIST, "no usable temporary file name", path)


def _discard(tmp: str) -> None:
    try:
        oslite.unlink(tmp)
    except OSError:
        pass


def fsync_dir(d: str) -> None:
    """Sync directory ``d`` (a rename or unlink in it made durable); errors are ignored."""
    try:
        fd = oslite.open(d or ".", oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_CLOEXEC)
    except OSError:
        return
    try:
        oslite.fsync(fd)
    except OSError:
        pass
    finally:
        oslite.close(fd)


def write(path: str, data: bytes, meta: Meta, before_rename=None, sync_dir: bool = True) -> list[tuple[str, str]]:
    """Replace ``path`` (not followed if a symbolic link: callers pass the real path) with ``data``
    carrying ``meta``; its directory must exist.  ``before_rename`` is called once the temporary
    file is complete.  ``sync_dir=False`` leaves the rename to the kernel's own time (files read at
    once and not kept: a bundle's ``config.json``, the exec record).  Returns the extended attributes
    skipped (see :func:`_apply`)."""
    fds: list[int] = []
    tmp = _create(path, lambda t: fds.append(
        oslite.open(t, oslite.O_WRONLY | oslite.O_CREAT | oslite.O_EXCL | oslite.O_NOFOLLOW | oslite.O_CLOEXEC, 0o600)))
    try:
        fd = fds[0]
        try:
            view = memoryview(data)
            while view:
                view = view[oslite.write(fd, view):]
            skipped = _apply(fd, meta)
            oslite.fsync(fd)
        finally:
            oslite.close(fd)
        if before_rename is not None:
            before_rename()
        oslite.rename(tmp, path)
    except BaseException:
        _discard(tmp)
        raise
    if sync_dir:
        fsync_dir(oslite.dirname(path))
    return skipped


def links_to(link: str, target: str) -> bool:
    """Whether ``link`` is a symbolic link whose text is ``target``."""
    try:
        return oslite.readlink(link) == target
    except OSError:
        return False


def symlink(target: str, link: str) -> bool:
    """Make ``link`` a symbolic link to ``target``, atomically replacing what ``link`` was; False
    (nothing done) when it already is one."""
    if links_to(link, target):
        return False
    tmp = _create(link, lambda t: oslite.symlink(target, t))
    try:
        oslite.rename(tmp, link)
    except BaseException:
        _discard(tmp)
        raise
    return True


def sha256(data: bytes | None) -> str | None:
    """The hex SHA-256 of ``data`` (None for None: a file that does not exist)."""
    import hashlib

    return None if data is None else hashlib.sha256(data).hexdigest()
