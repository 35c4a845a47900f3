"""Small helpers shared by the hooks: random names and files written inside the root."""

from __future__ import annotations

import os

from .. import errors

__all__ = ["new_uuid", "write_new", "random_digits"]


def new_uuid() -> str:
    b = bytearray(os.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def random_digits() -> str:
    return str(int.from_bytes(os.urandom(4), "little"))


def write_new(path: str, data: bytes, mode: int, append: bool = False) -> None:
    """Write ``path`` (already resolved inside the root), never through a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | (os.O_APPEND if append else os.O_TRUNC)
    try:
        fd = os.open(path, flags, mode)
    except OSError as exc:
        raise errors.HookError(f"failed to write {path}: {exc.strerror}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if not append:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)
