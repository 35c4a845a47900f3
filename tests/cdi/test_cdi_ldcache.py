"""The ld.so.cache reader (``cdi.ldcache``) on hand-made caches."""

from __future__ import annotations

import struct

from hypothesis import given
from hypothesis import strategies as st

from cdi import ldcache


def cache(entries: list[tuple[str, str]], last_nul: bool = True) -> bytes:
    """A ``glibc-ld.so.cache1.1`` file (new format alone) with ``entries``; its last string
    without its NUL unless ``last_nul``."""
    head = 48 + 24 * len(entries)
    strings = b""
    table = b""
    for name, path in entries:
        key = head + len(strings)
        strings += name.encode() + b"\0"
        value = head + len(strings)
        strings += path.encode() + b"\0"
        table += struct.pack("<iIIIQ", 1, key, value, 0, 0)
    if not last_nul:
        strings = strings[:-1]
    return (b"glibc-ld.so.cache1.1" + struct.pack("<II", len(entries), len(strings)) + b"\0" * 20
            + table + strings)


def test_entries_in_file_order(tmp_path):
    p = tmp_path / "ld.so.cache"
    p.write_bytes(cache([("libcuda.so.1", "/usr/lib/libcuda.so.1"), ("libc.so.6", "/lib/libc.so.6")]))
    assert ldcache.entries(str(p)) == [("libcuda.so.1", "/usr/lib/libcuda.so.1"), ("libc.so.6", "/lib/libc.so.6")]


def test_a_last_string_cut_before_its_nul_keeps_its_last_character(tmp_path):
    p = tmp_path / "ld.so.cache"
    p.write_bytes(cache([("libcuda.so.1", "/usr/lib/libcuda.so.1")], last_nul=False))
    assert ldcache.entries(str(p)) == [("libcuda.so.1", "/usr/lib/libcuda.so.1")]


def test_a_rewritten_cache_is_parsed_again(tmp_path):
    """entries() keeps the last parse by the file's bytes: the same path with new contents is re-read."""
    p = tmp_path / "ld.so.cache"
    p.write_bytes(cache([("libcuda.so.1", "/usr/lib/libcuda.so.1")]))
    assert ldcache.entries(str(p)) == [("libcuda.so.1", "/usr/lib/libcuda.so.1")]
    first = ldcache.entries(str(p))
    first.append(("x", "y"))  # a caller's list is its own
    assert ldcache.entries(str(p)) == [("libcuda.so.1", "/usr/lib/libcuda.so.1")]
    p.write_bytes(cache([("libcuda.so.2", "/usr/lib/libcuda.so.2")]))
    assert ldcache.entries(str(p)) == [("libcuda.so.2", "/usr/lib/libcuda.so.2")]


def with_struct(data: bytes) -> list[tuple[str, str]]:
    """The entries read with ``struct``, up to the first that does not fit whole (24 bytes)."""
    base = data.find(b"glibc-ld.so.cache1.1")
    out = []
    try:
        nlibs, = struct.unpack_from("<I", data, base + 20)
        for i in range(nlibs):
            _f, key, value, _v, _h = struct.unpack_from("<iIIIQ", data, base + 48 + i * 24)
            out.append(tuple(data[base + o:].split(b"\0", 1)[0].decode("utf-8", "replace") for o in (key, value)))
    except struct.error:
        pass
    return out


@given(st.integers(0, 4), st.integers(0, 160), st.integers(0, 7), st.integers(0, 2**32 - 1) | st.none())
def test_any_cut_any_offset_any_count_reads_as_with_struct(n, cut, pad, count):
    """A table after an unaligned prefix (the old format's table comes first), cut anywhere, claiming any
    count: the entries that fit whole (the reader used to take a last entry cut after its value offset)."""
    data = b"x" * pad + cache([(f"lib{i}.so", f"/l/lib{i}.so") for i in range(n)])
    if count is not None:
        at = pad + 20
        data = data[:at] + struct.pack("<I", count) + data[at + 4:]
    data = data[:len(data) - cut] if cut < len(data) else b""
    assert ldcache._parse(data) == with_struct(data)
