"""Reader of glibc's ``ld.so.cache`` (the ``glibc-ld.so.cache1.1`` format, alone or after the
old ``ld.so-1.7.0`` table): the (library name, path) entries in file order."""

from __future__ import annotations

from .elf import _cstr   # a string cut before its NUL ends at the end of the data

__all__ = ["entries"]

_MAGIC = b"glibc-ld.so.cache1.1"
MAX_READ = 16 << 20


# The last cache parsed, by its bytes: one generator run looks libraries up in the same cache a
# dozen times, and reading it again is cheap (one read) where parsing is not (0.5 ms for 500 entries).
_last: tuple[bytes, tuple] = (b"", ())


def entries(path: str) -> list[tuple[str, str]]:
    """Entries of the cache at ``path``; [] when missing or unreadable."""
    global _last
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_READ)
    except OSError:
        return []
    if data and data == _last[0]:
        return list(_last[1])
    out = _parse(data)
    _last = (data, tuple(out))
    return out


def _parse(data: bytes) -> list[tuple[str, str]]:
    """The entries of a ``glibc-ld.so.cache1.1`` table (24 bytes each: flags, key and value offsets
    from the table, os version, hwcap), as far as the data holds them.  The cache is in the host's byte
    order: its words are read as native ``unsigned int`` (``memoryview.cast``, not ``struct``, an
    extension module the frozen binary would load from memory)."""
    base = data.find(_MAGIC)
    if base < 0 or len(data) < base + 24:
        return []
    start = base + 48
    count = min(memoryview(data)[base + 20:base + 24].cast("I")[0], max(0, len(data) - start) // 24)
    words = memoryview(data)[start:start + count * 24].cast("I")
    return [(_cstr(data, base + words[i + 1]), _cstr(data, base + words[i + 2])) for i in range(0, count * 6, 6)]
