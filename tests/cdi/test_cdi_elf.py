"""cdi.elf (DT_SONAME, named sections) against a ``struct`` reading of the same bytes, on real shared
objects and on damaged copies of one."""

from __future__ import annotations

import struct
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from cdi import elf

# The host's own shared objects (the multiarch folder of whatever machine runs the tests).
LIBS = sorted(p for p in Path("/usr/lib").glob("*-linux-gnu/lib*.so.*") if p.is_file() and not p.is_symlink())[:40]


def _sections(data: bytes):
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    if shentsize < 64 or shnum > elf.MAX_SECTIONS:
        raise ValueError
    table = data[shoff:shoff + shentsize * shnum]
    out = []
    for i in range(len(table) // shentsize):
        name, typ, _f, _a, off, size, link = struct.unpack_from("<IIQQQQI", table, i * shentsize)
        out.append((name, typ, data[off:off + min(size, elf.MAX_SECTION)], link))
    return out, shstrndx


def reference(data: bytes) -> tuple[str | None, tuple | None]:
    """(soname, the .dynstr section) as a struct reading of ``data`` gives them."""
    if len(data) < 64 or data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        return None, None
    try:
        sections, shstrndx = _sections(data)
    except (ValueError, struct.error):
        return None, None
    def soname() -> str | None:
        for _n, typ, dyn, link in sections:
            if typ != 6:
                continue
            strtab = sections[link][2]
            for j in range(0, len(dyn) - 15, 16):
                tag, val = struct.unpack_from("<qQ", dyn, j)
                if tag == 0:
                    break
                if tag == 14:
                    return elf._cstr(strtab, val)
        return None

    try:
        name = soname()
    except IndexError:
        name = None
    try:
        names = sections[shstrndx][2]
        found = next(((typ, body) for n, typ, body, _l in sections if elf._cstr(names, n) == ".dynstr"), None)
    except IndexError:
        found = None
    return name, found


def test_real_libraries():
    assert LIBS, "no shared objects to read"
    for path in LIBS:
        assert (elf.soname(str(path)), elf.section(str(path), ".dynstr")) == reference(path.read_bytes()), path
    assert elf.soname(str(LIBS[0])) and elf.soname("/nonexistent") is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(min_size=1, max_size=8)), max_size=4),
       st.sampled_from(["head", "table", "anywhere"]))
def test_damaged_copies_read_as_struct_reads_them(tmp_path_factory, damage, where):
    data = bytearray(min(LIBS, key=lambda p: p.stat().st_size).read_bytes())
    shoff, = struct.unpack_from("<Q", data, 0x28)
    for at, chunk in damage:
        at = {"head": at % 64, "table": shoff + at % max(1, len(data) - shoff), "anywhere": at % len(data)}[where]
        data[at:at + len(chunk)] = chunk
    path = tmp_path_factory.mktemp("elf") / "lib.so"
    path.write_bytes(bytes(data))
    assert (elf.soname(str(path)), elf.section(str(path), ".dynstr")) == reference(bytes(data))
