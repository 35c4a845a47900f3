"""hook.oslite: the hook's ``os`` without ``os`` behaves as ``os`` for what the hook uses."""

from __future__ import annotations

import os
import posixpath

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hook import oslite

PATHS = st.text(alphabet="/ab.", max_size=8)


@given(PATHS, st.lists(PATHS, max_size=3))
def test_join_is_os_path_join(first, more):
    assert oslite.join(first, *more) == posixpath.join(first, *more)


@given(PATHS)
def test_dirname_and_basename_are_os_paths(path):
    assert (oslite.dirname(path), oslite.basename(path)) == (posixpath.dirname(path), posixpath.basename(path))


def test_file_kind_probes(tmp_path):
    (tmp_path / "f").write_text("")
    (tmp_path / "d").mkdir()
    (tmp_path / "l").symlink_to("f")
    (tmp_path / "dangling").symlink_to("nowhere")
    for name in ("f", "d", "l", "dangling", "missing", "f/below", "nul\0"):
        path = str(tmp_path / name)
        assert (oslite.exists(path), oslite.isfile(path), oslite.isdir(path)) == \
            (os.path.exists(path), os.path.isfile(path), os.path.isdir(path)), name


def test_realdir_resolves_links_as_realpath(tmp_path):
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "link").symlink_to("real")
    for path in (tmp_path / "link" / "sub", tmp_path / "link" / "sub" / ".." / "sub", tmp_path / "real"):
        assert oslite.realdir(str(path)) == os.path.realpath(path)
    missing = str(tmp_path / "link" / "missing")  # not openable: os.path.realpath's answer
    assert oslite.realdir(missing) == os.path.realpath(missing)


def test_environment_is_the_one_os_environ_sees(monkeypatch):
    monkeypatch.setenv("OSLITE_A", "é=1")
    assert oslite.getenv("OSLITE_A") == "é=1" and oslite.getenv("OSLITE_MISSING", "d") == "d"
    try:
        oslite.setenv("OSLITE_B", "x y")
        assert os.environ["OSLITE_B"] == "x y" and os.getenv("OSLITE_B") == "x y"
        assert ("OSLITE_B", "x y") in oslite.environ_items()
        oslite.delenv("OSLITE_B")
        oslite.delenv("OSLITE_B")  # absent: nothing to do, as os.environ.pop(name, None)
        assert "OSLITE_B" not in os.environ
    finally:
        os.environ.pop("OSLITE_B", None)
    assert oslite.environ_items() == list(os.environ.items())


def test_bytes_that_are_not_utf8_round_trip():
    os.environb[b"OSLITE_RAW"] = b"\xff"
    try:
        assert oslite.getenv("OSLITE_RAW") == os.environ["OSLITE_RAW"] == "\udcff"
        assert oslite.fsencode(oslite.getenv("OSLITE_RAW")) == b"\xff" and oslite.fsdecode(b"\xff") == "\udcff"
    finally:
        del os.environb[b"OSLITE_RAW"]


@pytest.mark.parametrize("name", ["O_CLOEXEC", "O_PATH", "RTLD_LAZY", "X_OK", "open", "stat", "execve"])
def test_reexports_are_os_s(name):
    assert getattr(oslite, name) == getattr(os, name)


def test_effective_ids_as_os_says():
    assert oslite.EFFECTIVE_IDS == (os.access in os.supports_effective_ids)
