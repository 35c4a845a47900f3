"""Small helpers shared by the hooks: random names and files written inside the root."""

from __future__ import annotations

import os

from ..errors import HookError

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
        raise HookError(f"failed to write {path}: {exc.strerror}") from None
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        if not append:
            os.fchmod(fd, mode)
    finally:
        os.close(fd)


def match(pattern: str, name: str) -> bool:
    """Shell-style ``*``/``?`` matching of one path component (``[...]`` classes through fnmatch);
    without importing ``re`` on the common path (the hooks' start-up budget)."""
    if "[" in pattern:
        import fnmatch
        return fnmatch.fnmatchcase(name, pattern)
    if name.startswith(".") and not pattern.startswith("."):
        return False
    p = n = 0
    star, mark = -1, 0
    while n < len(name):
        if p < len(pattern) and (pattern[p] == "?" or pattern[p] == name[n]):
            p += 1
            n += 1
        elif p < len(pattern) and pattern[p] == "*":
            star, mark = p, n
            p += 1
        elif star >= 0:
            p = star + 1
            mark += 1
            n = mark
        else:
            return False
    while p < len(pattern) and pattern[p] == "*":
        p += 1
    return p == len(pattern)


def glob_in(folder: str, pattern: str) -> list[str]:
    """Sorted paths of ``folder``'s entries matching ``pattern``."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return [os.path.join(folder, n) for n in sorted(names) if match(pattern, n)]
