"""Small helpers shared by the hooks: random names and files written inside the root."""

from __future__ import annotations

from hook import oslite

from .. import errors

__all__ = ["new_uuid", "write_new", "random_digits"]


def new_uuid() -> str:
    b = bytearray(oslite.urandom(16))
    b[6] = (b[6] & 0x0F) | 0x40
    b[8] = (b[8] & 0x3F) | 0x80
    h = b.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def random_digits() -> str:
    return str(int.from_bytes(oslite.urandom(4), "little"))


def write_new(path: str, data: bytes, mode: int, append: bool = False) -> None:
    """Write ``path`` (already resolved inside the root), never through a symlink."""
    flags = (oslite.O_WRONLY | oslite.O_CREAT | oslite.O_NOFOLLOW | oslite.O_CLOEXEC
             | (oslite.O_APPEND if append else oslite.O_TRUNC))
    try:
        fd = oslite.open(path, flags, mode)
    except OSError as exc:
        raise errors.HookError(f"failed to write {path}: {exc.strerror}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[oslite.write(fd, view):]
        if not append:
            oslite.fchmod(fd, mode)
    finally:
        oslite.close(fd)
