"""Where libnvidia-container.so.1 is looked for under a driver root: one list of directories, in one
order, for the hook at run time (hook.nvc.find_library, ``injector = "auto"``) and for ``nvidia-ctk
install`` (ctk.toolkit.find_backend, which writes ``library-path``); docs/injector.md "Configuration",
docs/runtime-config.md "The toolkit"."""

from __future__ import annotations

import pytest

from ctk import toolkit
from hook import nvc

LIB = "libnvidia-container.so.1"
# The documented order (docs/injector.md, docs/runtime-config.md).
DIRS = ("usr/lib/x86_64-linux-gnu", "usr/lib64", "usr/lib/aarch64-linux-gnu",
        "lib/x86_64-linux-gnu", "lib64", "lib/aarch64-linux-gnu", "usr/lib", "lib")


def test_the_list_is_the_documented_one():
    assert nvc.LIB_DIRS == DIRS


@pytest.mark.parametrize("first", range(len(DIRS)), ids=DIRS)
def test_hook_and_installer_find_the_first_directory_of_the_list(tmp_path, first):
    """The library in this directory and in every later one: both take this one."""
    root = tmp_path / "driver"
    for d in DIRS[first:]:
        (root / d).mkdir(parents=True, exist_ok=True)
        (root / d / f"{LIB}.1.17.0").write_bytes(b"\x7fELF")
        (root / d / LIB).symlink_to(f"{LIB}.1.17.0")
    expected = f"{root}/{DIRS[first]}/{LIB}"  # the link as found
    assert nvc.find_library(None, str(root)) == expected
    assert toolkit.find_backend(str(root)).library == expected


def test_hook_tries_the_root_then_the_host_in_list_order(tmp_path):
    root = str(tmp_path / "driver")
    assert nvc.candidates(None, root) == [f"{root}/{d}/{LIB}" for d in DIRS] + [f"/{d}/{LIB}" for d in DIRS]
    assert nvc.candidates(None, "/") == [f"/{d}/{LIB}" for d in DIRS]
    assert nvc.candidates("/x/lib.so", root) == ["/x/lib.so"]


def test_an_all_slash_root_is_the_hosts_root():
    """``//`` (any root of slashes only) is ``/`` (hook.gocompat.under_root): the host's folders, once."""
    assert nvc.candidates(None, "//") == nvc.candidates(None, "") == [f"/{d}/{LIB}" for d in DIRS]


def test_hook_and_installer_take_a_root_with_trailing_slashes_as_it(tmp_path):
    """A root's trailing slashes are dropped (hook.gocompat.under_root), not doubled in the path found."""
    root = tmp_path / "driver"
    (root / "lib").mkdir(parents=True)
    (root / "lib" / LIB).write_bytes(b"\x7fELF")
    assert nvc.find_library(None, f"{root}//") == f"{root}/lib/{LIB}"
    assert toolkit.find_backend(f"{root}//").library == f"{root}/lib/{LIB}"


def test_a_directory_named_like_the_library_is_not_it(tmp_path):
    root = tmp_path / "driver"
    (root / "usr/lib64" / LIB).mkdir(parents=True)
    (root / "lib").mkdir()
    (root / "lib" / LIB).write_bytes(b"\x7fELF")
    assert nvc.library_in(str(root)) == f"{root}/lib/{LIB}"
    assert toolkit.find_backend(str(root)).library == f"{root}/lib/{LIB}"


def test_explicit_path_is_the_only_one(tmp_path):
    lib = tmp_path / LIB
    assert nvc.find_library(str(lib), "/") is None
    lib.write_bytes(b"\x7fELF")
    assert nvc.find_library(str(lib), "/") == str(lib)
