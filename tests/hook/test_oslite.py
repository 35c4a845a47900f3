"""hook.oslite: the hook's ``os`` without ``os`` behaves as ``os`` for what the hook uses."""

from __future__ import annotations

import os
import posixpath
import stat

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
    assert oslite.split(path) == posixpath.split(path)


@given(PATHS)
def test_normpath_and_abspath_are_os_paths(path):
    assert oslite.normpath(path) == posixpath.normpath(path)
    assert oslite.abspath(path) == posixpath.abspath(path)


def test_makedirs_is_os_makedirs(tmp_path):
    (tmp_path / "file").write_text("")
    for made, name in ((oslite.makedirs, "lite"), (os.makedirs, "os")):
        made(str(tmp_path / name / "a" / "b"), 0o700)
        made(str(tmp_path / name / "a" / "b"), exist_ok=True)
        made(str(tmp_path / name / "c" / "."), 0o711)
        made(str(tmp_path / name / "d" / ""), 0o750)
    for rel in ("a", "a/b", "c", "d"):
        assert (tmp_path / "lite" / rel).stat().st_mode == (tmp_path / "os" / rel).stat().st_mode, rel
    for path, kw in (("lite/a/b", {}), ("file", {"exist_ok": True}), ("file/x", {}), ("nul\0", {})):
        with pytest.raises((OSError, ValueError)) as lite:
            oslite.makedirs(str(tmp_path / path), **kw)
        with pytest.raises((OSError, ValueError)) as real:
            os.makedirs(str(tmp_path / path), **kw)
        assert (type(lite.value), lite.value.args) == (type(real.value), real.value.args), path


def test_file_kind_probes(tmp_path):
    (tmp_path / "f").write_text("")
    (tmp_path / "d").mkdir()
    (tmp_path / "l").symlink_to("f")
    (tmp_path / "dangling").symlink_to("nowhere")
    for name in ("f", "d", "l", "dangling", "missing", "f/below", "nul\0"):
        path = str(tmp_path / name)
        assert (oslite.exists(path), oslite.isfile(path), oslite.isdir(path), oslite.lexists(path),
                oslite.islink(path)) == (os.path.exists(path), os.path.isfile(path), os.path.isdir(path),
                                         os.path.lexists(path), os.path.islink(path)), name


@pytest.fixture(scope="module")
def link_tree(tmp_path_factory):
    """Folders, files and symbolic links of every kind: relative, absolute, dangling, through ``..``, loops."""
    root = tmp_path_factory.mktemp("links")
    (root / "d" / "e").mkdir(parents=True)
    (root / "d" / "f").write_text("")
    for name, target in (("rel", "d/e"), ("abs", str(root / "d")), ("dangling", "nowhere/x"), ("up", "d/e/../.."),
                         ("loop1", "loop2"), ("loop2", "loop1"), ("self", "self"), ("file", "d/f"),
                         ("chain", "rel/../f"), ("d/e/back", "../../rel")):
        (root / name).symlink_to(target)
    return root


NAMES = st.sampled_from(["d", "e", "f", "rel", "abs", "dangling", "up", "loop1", "self", "file", "chain", "back", ".",
                         "..", "", "missing"])


@given(st.lists(NAMES, max_size=5), st.booleans(), st.booleans())
def test_realpath_is_os_path_realpath(link_tree, names, absolute, strict):
    path = (str(link_tree) + "/" if absolute else "") + "/".join(names)
    cwd = os.getcwd()
    os.chdir(link_tree)  # relative paths start there
    try:
        try:
            want = os.path.realpath(path, strict=strict)
        except OSError as exc:
            with pytest.raises(OSError) as got:
                oslite.realpath(path, strict=strict)
            assert (type(got.value), got.value.errno) == (type(exc), exc.errno)
        else:
            assert oslite.realpath(path, strict=strict) == want
            assert oslite._joinrealpath("", path, strict, {})[0] == posixpath._joinrealpath("", path, strict, {})[0]
    finally:
        os.chdir(cwd)


def test_realpath_resolves_files_and_links_as_realpath(tmp_path):
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "real" / "sub" / "f").write_text("")
    (tmp_path / "link").symlink_to("real")
    (tmp_path / "real" / "flink").symlink_to("sub/f")
    (tmp_path / "real" / "dangling").symlink_to("sub/gone")
    for rel in ("link/sub/f", "link/flink", "real/sub/../flink", "link/sub", "link/dangling", "link/missing", "."):
        path = str(tmp_path / rel)
        assert oslite.realpath(path) == os.path.realpath(path), rel


def test_environment_is_the_one_os_environ_sees(monkeypatch):
    monkeypatch.setenv("OSLITE_A", "é=1")
    assert oslite.getenv("OSLITE_A") == "é=1" and oslite.getenv("OSLITE_MISSING", "d") == "d"
    try:
        oslite.setenv("OSLITE_B", "x y")
        assert os.environ["OSLITE_B"] == "x y" and os.getenv("OSLITE_B") == "x y"
        assert ("OSLITE_B", "x y") in oslite.environ_items()
        oslite.delenv("OSLITE_B")
        oslite.delenv("OSLITE_B")  # absent: nothing to do, as os.environ.pop(name, None)
        assert oslite.delenv("") is oslite.delenv("A=B") is os.environ.pop("A=B", None) is None  # not even unsetenv
        assert "OSLITE_B" not in os.environ
    finally:
        os.environ.pop("OSLITE_B", None)
    assert oslite.environ_items() == list(os.environ.items())


def test_bytes_that_are_not_utf8_round_trip():
    os.environb[b"OSLITE_RAW"] = b"\xff"
    try:
        assert oslite.getenv("OSLITE_RAW") == os.environ["OSLITE_RAW"] == "\udcff"
        assert oslite.fsencode(oslite.getenv("OSLITE_RAW")) == b"\xff"
    finally:
        del os.environb[b"OSLITE_RAW"]


@pytest.mark.parametrize("name", ["O_CLOEXEC", "O_PATH", "O_WRONLY", "O_APPEND", "O_CREAT", "O_EXCL", "O_TRUNC",
                                  "RTLD_LAZY", "X_OK", "open", "stat", "lstat", "stat_result", "execve", "execv",
                                  "rename", "urandom", "setxattr", "major", "minor", "waitstatus_to_exitcode"])
def test_reexports_are_os_s(name):
    assert getattr(oslite, name) == getattr(os, name)


@pytest.mark.parametrize("kind", ["IFDIR", "IFREG", "IFLNK", "IFCHR", "IFBLK", "IFIFO"])
def test_file_types_are_stat_s(kind):
    assert getattr(oslite, f"S_{kind}") == getattr(stat, f"S_{kind}")


@given(st.integers(min_value=0, max_value=0o177777))
def test_mode_bits_are_stat_s(mode):
    assert (oslite.S_IFMT(mode), oslite.S_IMODE(mode)) == (stat.S_IFMT(mode), stat.S_IMODE(mode))


def test_effective_ids_as_os_says():
    assert oslite.EFFECTIVE_IDS == (os.access in os.supports_effective_ids)
