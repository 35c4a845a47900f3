"""Minimal ELF64 little-endian reader: the DT_SONAME of a shared object and a named section.

Reads at most :data:`MAX_READ` bytes; anything malformed yields None (callers treat it as
"no soname" / "no note"), never an exception.
"""

from __future__ import annotations

import struct

__all__ = ["soname", "section", "cuda_note"]

MAX_READ = 64 << 20


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_READ)
    except OSError:
        return None
    if data[:4] != b"\x7fELF" or len(data) < 64 or data[4] != 2 or data[5] != 1:
        return None
    return data


def _sections(data: bytes) -> list[tuple[int, int, int, int, int]]:
    """(name offset, type, offset, size, link) of every section header."""
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    out = []
    for i in range(shnum):
        base = shoff + i * shentsize
        if base + 64 > len(data):
            break
        name, typ, _flags, _addr, off, size, link = struct.unpack_from("<IIQQQQI", data, base)
        out.append((name, typ, off, size, link))
    return out


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return data[off:end if end >= 0 else len(data)].decode("utf-8", "replace")


def soname(path: str) -> str | None:
    """The DT_SONAME of ``path``, or None."""
    data = _read(path)
    if data is None:
        return None
    try:
        secs = _sections(data)
        for _n, typ, off, size, link in secs:
            if typ != 6:  # SHT_DYNAMIC
                continue
            stroff = secs[link][2]
            for i in range(off, off + size, 16):
                tag, val = struct.unpack_from("<qQ", data, i)
                if tag == 0:
                    break
                if tag == 14:  # DT_SONAME
                    return _cstr(data, stroff + val)
    except (struct.error, IndexError):
        return None
    return None


def section(path: str, name: str) -> tuple[int, bytes] | None:
    """(type, content) of the section called ``name``, or None."""
    data = _read(path)
    if data is None:
        return None
    try:
        secs = _sections(data)
        shstrndx, = struct.unpack_from("<H", data, 0x3E)
        stroff = secs[shstrndx][2]
        for n, typ, off, size, _link in secs:
            if _cstr(data, stroff + n) == name:
                return typ, data[off:off + size]
    except (struct.error, IndexError):
        return None
    return None


def cuda_note(path: str) -> bytes | None:
    """Descriptor of the ``NVIDIA Corporation`` note in ``.note.cuda.fwd_compatibility``."""
    sec = section(path, ".note.cuda.fwd_compatibility")
    if sec is None or sec[0] != 7:  # SHT_NOTE
        return None
    data = sec[1]
    i = 0
    while i + 12 <= len(data):
        namesz, descsz, _typ = struct.unpack_from("<III", data, i)
        i += 12
        name = data[i:i + namesz].rstrip(b"\0")
        i += (namesz + 3) & ~3
        desc = data[i:i + descsz]
        i += (descsz + 3) & ~3
        if name == b"NVIDIA Corporation":
            return desc.rstrip(b"\0")
    return None
