"""Paths inside a container's root filesystem, resolved as if the rootfs were ``/``.

An image is untrusted input: its absolute symlinks (``/usr/local/cuda -> /etc/alternatives/cuda``)
point into the image, never at the host, and ``..`` stops at the image's root.  The walk goes one
component at a time, ``openat(O_PATH | O_NOFOLLOW)`` from a descriptor of the rootfs, reading each
symlink itself (``readlinkat``): the kernel never resolves a path of the image against the host's
root, and a component swapped for a symlink during the walk is read as a symlink, not followed.  At
most ``max_links`` symlinks are followed (then ``ELOOP``; :data:`MAX_LINKS` by default, as the
kernel does).

The one resolver of the project, for the hook and the CDI hooks: :func:`resolve` gives the host
path of a path of the image (every component must exist, or ``missing_ok``: the components that do
not exist are kept as they are, as filepath-securejoin does, for paths about to be created);
:func:`listdir` lists a directory of the image; :func:`makedirs` creates a directory (and its
missing parents) inside the rootfs.  They raise :class:`OSError` (``ENOENT``, ``ENOTDIR``,
``ELOOP``, ...).
"""

from __future__ import annotations

from . import oslite

__all__ = ["MAX_LINKS", "resolve", "listdir", "makedirs"]

MAX_LINKS = 40  # Linux's MAXSYMLINKS

_FLAGS = oslite.O_PATH | oslite.O_NOFOLLOW | oslite.O_CLOEXEC
_ROOT_FLAGS = oslite.O_PATH | oslite.O_DIRECTORY | oslite.O_CLOEXEC
_DIR_FLAGS = oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_NOFOLLOW | oslite.O_CLOEXEC


class _Walk:
    """The descriptors of the directories from the rootfs down to the resolved path (None for the
    components that do not exist, with ``missing_ok``)."""

    def __init__(self, rootfs: str, path: str, missing_ok: bool = False, max_links: int = MAX_LINKS) -> None:
        self.rootfs = rootfs.rstrip("/") or "/"
        self.missing_ok = missing_ok
        self.fds: list[int | None] = [self._open(self.rootfs, _ROOT_FLAGS, None)]
        self.names: list[str] = []
        try:
            self._walk(path, max_links)
        except BaseException:
            self.close()
            raise

    def _open(self, name: str, flags: int, dir_fd: int | None) -> int | None:
        try:
            return oslite.open(name, flags, dir_fd=dir_fd)
        except OSError:
            if not self.missing_ok:
                raise
            return None

    def _walk(self, path: str, max_links: int) -> None:
        todo = path.split("/")[::-1]
        links = 0
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if self.names:  # clamped at the rootfs
                    self._pop()
                continue
            parent = self.fds[-1]
            fd = None if parent is None else self._open(name, _FLAGS, parent)
            if fd is None or oslite.S_IFMT(oslite.fstat(fd).st_mode) != oslite.S_IFLNK:
                self.fds.append(fd)
                self.names.append(name)
                continue
            oslite.close(fd)
            links += 1
            if links > max_links:
                import errno
                raise OSError(errno.ELOOP, oslite.strerror(errno.ELOOP), self.host_path + "/" + name)
            target = oslite.readlink(name, dir_fd=parent)
            if target.startswith("/"):
                while self.names:
                    self._pop()
            todo.extend(target.split("/")[::-1])

    def _pop(self) -> None:
        fd = self.fds.pop()
        if fd is not None:
            oslite.close(fd)
        self.names.pop()

    @property
    def host_path(self) -> str:
        if not self.names:
            return self.rootfs
        return ("" if self.rootfs == "/" else self.rootfs) + "/" + "/".join(self.names)

    def close(self) -> None:
        while self.fds:
            fd = self.fds.pop()
            if fd is not None:
                oslite.close(fd)


def resolve(rootfs: str, path: str, missing_ok: bool = False, max_links: int = MAX_LINKS) -> str:
    """The host path that ``path`` names inside ``rootfs``: every component must exist, unless
    ``missing_ok`` (then those that do not are kept as they are)."""
    walk = _Walk(rootfs, path, missing_ok, max_links)
    walk.close()
    return walk.host_path


def listdir(rootfs: str, path: str) -> tuple[str, list[str]]:
    """``(host path, entry names)`` of the directory ``path`` inside ``rootfs``."""
    walk = _Walk(rootfs, path)
    try:
        fd = oslite.open(".", oslite.O_RDONLY | oslite.O_DIRECTORY | oslite.O_CLOEXEC, dir_fd=walk.fds[-1])
        try:
            return walk.host_path, oslite.listdir(fd)
        finally:
            oslite.close(fd)
    finally:
        walk.close()


def makedirs(rootfs: str, path: str, mode: int = 0o755, max_links: int = MAX_LINKS) -> str:
    """Create the directory ``path`` inside ``rootfs`` and its missing parents, each with ``mode``
    (whatever the umask), every one relative to the descriptor of its parent; returns its host path.

    Raises :class:`NotADirectoryError` (its ``filename`` the host path) for a component that
    exists and is not a directory, or another :class:`OSError`.
    """
    import errno

    walk = _Walk(rootfs, path, True, max_links)
    try:
        if walk.fds[0] is None:
            raise FileNotFoundError(errno.ENOENT, oslite.strerror(errno.ENOENT), walk.rootfs)
        prefix = "" if walk.rootfs == "/" else walk.rootfs
        for i in range(1, len(walk.fds)):
            name, parent, fd = walk.names[i - 1], walk.fds[i - 1], walk.fds[i]
            if fd is None:
                try:
                    oslite.mkdir(name, mode, dir_fd=parent)
                except FileExistsError:
                    pass
                else:
                    new = oslite.open(name, _DIR_FLAGS, dir_fd=parent)
                    try:
                        oslite.fchmod(new, mode)
                    finally:
                        oslite.close(new)
                fd = walk.fds[i] = oslite.open(name, _FLAGS, dir_fd=parent)
            if oslite.S_IFMT(oslite.fstat(fd).st_mode) != oslite.S_IFDIR:
                raise NotADirectoryError(errno.ENOTDIR, "exists and is not a directory",
                                         prefix + "/" + "/".join(walk.names[:i]))
        return walk.host_path
    finally:
        walk.close()
