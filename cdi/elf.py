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


def _pread(fd: int, size: int, offset: int) -> bytes:
    """``pread``, and nothing for an offset past any file (a damaged header's: ``pread`` would raise
    OverflowError)."""
    return oslite.pread(fd, size, offset) if offset < 1 << 63 else b""


class _Elf:
    """The section header table of an ELF64 little-endian file, its fields read as they are needed
    (``int.from_bytes``, not ``struct``: an extension module the frozen binary would load from memory
    for the few fields a lookup reads)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        head = oslite.pread(fd, 64, 0)
        if len(head) < 64 or head[:4] != b"\x7fELF" or head[4] != 2 or head[5] != 1:
            raise ValueError("not a little-endian ELF64 file")
        shoff = int.from_bytes(head[0x28:0x30], "little")
        shentsize, shnum, self.shstrndx = (int.from_bytes(head[i:i + 2], "little") for i in (0x3A, 0x3C, 0x3E))
        if shentsize < 64 or shnum > MAX_SECTIONS:
            raise ValueError("bad section header table")
        table = _pread(fd, shentsize * shnum, shoff)
        self.entry, self.count = shentsize, len(table) // shentsize  # the whole entries read
        self.table = table

    def field(self, index: int, offset: int, size: int) -> int:
        """A field of section ``index``'s Elf64_Shdr: name 0 and type 4 (4 bytes), offset 24 and size 32
        (8 bytes), link 40 (4 bytes).  Raises IndexError for a section the table does not hold."""
        if not 0 <= index < self.count:
            raise IndexError(index)
        at = index * self.entry + offset
        return int.from_bytes(self.table[at:at + size], "little")

    def read(self, index: int) -> bytes:
        return _pread(self.fd, min(self.field(index, 32, 8), MAX_SECTION), self.field(index, 24, 8))


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
        for i in range(elf.count):
            if elf.field(i, 4, 4) != 6:  # SHT_DYNAMIC
                continue
            dyn, strtab = elf.read(i), elf.read(elf.field(i, 40, 4))
            for j in range(0, len(dyn) - 15, 16):
                tag = int.from_bytes(dyn[j:j + 8], "little", signed=True)
                val = int.from_bytes(dyn[j + 8:j + 16], "little")
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
        for i in range(elf.count):
            if _cstr(names, elf.field(i, 0, 4)) == name:
                return elf.field(i, 4, 4), elf.read(i)
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
        namesz, descsz = int.from_bytes(data[i:i + 4], "little"), int.from_bytes(data[i + 4:i + 8], "little")
        i += 12
        name = data[i:i + namesz].rstrip(b"\0")
        i += (namesz + 3) & ~3
        desc = data[i:i + descsz]
        i += (descsz + 3) & ~3
        if name == b"NVIDIA Corporation":
            return desc.rstrip(b"\0")
    return None
