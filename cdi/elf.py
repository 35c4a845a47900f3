"""Minimal ELF64 little-endian reader: the DT_SONAME of a shared object and a named section.

Reads only the headers and the sections it needs (``pread``, each read bounded by
:data:`MAX_SECTION`), so a large library costs a few small reads; anything malformed yields None
(callers treat it as "no soname" / "no note"), never an exception.
"""

from __future__ import annotations

from hook import oslite

__all__ = ["soname", "section", "cuda_note"]

MAX_SECTION = 16 << 20
MAX_SECTIONS = 4096


def _le(data: bytes, off: int, size: int, signed: bool = False) -> int:
    """The little-endian integer of ``size`` bytes at ``off`` (not ``struct``: an extension module the
    frozen binary would load from memory for these few fields)."""
    return int.from_bytes(data[off:off + size], "little", signed=signed)


class _Elf:
    def __init__(self, fd: int) -> None:
        self.fd = fd
        head = oslite.pread(fd, 64, 0)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            raise ValueError("not a little-endian ELF64 file")
        shoff = _le(head, 0x28, 8)
        shentsize, shnum, shstrndx = _le(head, 0x3A, 2), _le(head, 0x3C, 2), _le(head, 0x3E, 2)
        if shentsize < 64 or shnum > MAX_SECTIONS:
            raise ValueError("bad section header table")
        table = oslite.pread(fd, shentsize * shnum, shoff)
        self.sections = []
        for i in range(shnum):
            if (i + 1) * shentsize > len(table):
                break
            at = i * shentsize  # Elf64_Shdr: name, type (4 bytes each), flags, addr, offset, size (8), link (4)
            self.sections.append((_le(table, at, 4), _le(table, at + 4, 4), _le(table, at + 24, 8),
                                  _le(table, at + 32, 8), _le(table, at + 40, 4)))
        self.shstrndx = shstrndx

    def read(self, index: int) -> bytes:
        _n, _t, off, size, _l = self.sections[index]
        return oslite.pread(self.fd, min(size, MAX_SECTION), off)


def _open(path: str):
    try:
        fd = oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC)
    except OSError:
        return None
    try:
        return _Elf(fd)
    except (OSError, ValueError):
        oslite.close(fd)
        return None


def _cstr(data: bytes, off: int) -> str:
    end = data.find(b"\0", off)
    return data[off:end if end >= 0 else len(data)].decode("utf-8", "replace")


def soname(path: str) -> str | None:
    """The DT_SONAME of ``path``, or None."""
    elf = _open(path)
    if elf is None:
        return None
    try:
        for i, (_n, typ, _off, _size, link) in enumerate(elf.sections):
            if typ != 6:  # SHT_DYNAMIC
                continue
            dyn, strtab = elf.read(i), elf.read(link)
            for j in range(0, len(dyn) - 15, 16):
                tag, val = _le(dyn, j, 8, signed=True), _le(dyn, j + 8, 8)
                if tag == 0:
                    break
                if tag == 14:  # DT_SONAME
                    return _cstr(strtab, val)
    except (OSError, IndexError):
        return None
    finally:
        oslite.close(elf.fd)
    return None


def section(path: str, name: str) -> tuple[int, bytes] | None:
    """(type, content) of the section called ``name``, or None."""
    elf = _open(path)
    if elf is None:
        return None
    try:
        names = elf.read(elf.shstrndx)
        for i, (n, typ, _off, _size, _link) in enumerate(elf.sections):
            if _cstr(names, n) == name:
                return typ, elf.read(i)
    except (OSError, IndexError):
        return None
    finally:
        oslite.close(elf.fd)
    return None


def cuda_note(path: str) -> bytes | None:
    """Descriptor of the ``NVIDIA Corporation`` note in ``.note.cuda.fwd_compatibility``."""
    sec = section(path, ".note.cuda.fwd_compatibility")
    if sec is None or sec[0] != 7:  # SHT_NOTE
        return None
    data = sec[1]
    i = 0
    while i + 12 <= len(data):
        namesz, descsz = _le(data, i, 4), _le(data, i + 4, 4)
        i += 12
        name = data[i:i + namesz].rstrip(b"\0")
        i += (namesz + 3) & ~3
        desc = data[i:i + descsz]
        i += (descsz + 3) & ~3
        if name == b"NVIDIA Corporation":
            return desc.rstrip(b"\0")
    return None
