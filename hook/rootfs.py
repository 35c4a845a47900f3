"""Paths inside a container's root filesystem, resolved as if the rootfs were ``/``.

An image is untrusted input: its absolute symlinks (``/usr/local/cuda -> /etc/alternatives/cuda``)
point into the image, never at the host, and ``..`` stops at the image's root.  The walk goes one
component at a time, ``openat(O_PATH | O_NOFOLLOW)`` from a descriptor of the rootfs, reading each
symlink itself (``readlinkat``): the kernel never resolves a path of the image against the host's
root, and a component swapped for a symlink during the walk is read as a symlink, not followed.  At
most :data:`MAX_LINKS` symlinks are followed (then ``ELOOP``), as the kernel does.

:func:`resolve` gives the host path of a path of the image; :func:`listdir` lists a directory of
the image.  Both raise :class:`OSError` (``ENOENT``, ``ENOTDIR``, ``ELOOP``, ...).
"""

from __future__ import annotations

import os

__all__ = ["MAX_LINKS", "resolve", "listdir"]

MAX_LINKS = 40  # Linux's MAXSYMLINKS

_FLAGS = os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
_S_IFMT = 0o170000
_S_IFLNK = 0o120000


class _Walk:
    """The descriptors of the directories from the rootfs down to the resolved path."""

    def __init__(self, rootfs: str, path: str) -> None:
        self.rootfs = rootfs.rstrip("/") or "/"
        self.fds = [os.open(self.rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)]
        self.names: list[str] = []
        try:
            self._walk(path)
        except BaseException:
            self.close()
            raise

    def _walk(self, path: str) -> None:
        todo = path.split("/")[::-1]
        links = 0
        while todo:
            name = todo.pop()
            if name in ("", "."):
                continue
            if name == "..":
                if self.names:  # clamped at the rootfs
                    os.close(self.fds.pop())
                    self.names.pop()
                continue
            fd = os.open(name, _FLAGS, dir_fd=self.fds[-1])
            if os.fstat(fd).st_mode & _S_IFMT != _S_IFLNK:
                self.fds.append(fd)
                self.names.append(name)
                continue
            os.close(fd)
            links += 1
            if links > MAX_LINKS:
                import errno
                raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), self.host_path + "/" + name)
            target = os.readlink(name, dir_fd=self.fds[-1])
            if target.startswith("/"):
                while self.names:
                    os.close(self.fds.pop())
                    self.names.pop()
            todo.extend(target.split("/")[::-1])

    @property
    def host_path(self) -> str:
        if not self.names:
            return self.rootfs
        return ("" if self.rootfs == "/" else self.rootfs) + "/" + "/".join(self.names)

    def close(self) -> None:
        while self.fds:
            os.close(self.fds.pop())


def resolve(rootfs: str, path: str) -> str:
    """The host path that ``path`` names inside ``rootfs`` (every component must exist)."""
    walk = _Walk(rootfs, path)
    walk.close()
    return walk.host_path


def listdir(rootfs: str, path: str) -> tuple[str, list[str]]:
    """``(host path, entry names)`` of the directory ``path`` inside ``rootfs``."""
    walk = _Walk(rootfs, path)
    try:
        fd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=walk.fds[-1])
        try:
            return walk.host_path, os.listdir(fd)
        finally:
            os.close(fd)
    finally:
        walk.close()
