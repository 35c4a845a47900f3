"""Loading the library through the generated cffi modules: layouts, version gating, search order."""

from __future__ import annotations

import ast
import os
import subprocess
import sys

import pytest

from nvc_testlib import FAKE_LIB, FAKE_LIB_101, FAKE_LIB_105, REPO
from hook.nvc import LibraryUnavailable, find_library
from hook.nvc import LIB_DIRS, candidates
from hook.nvc.configure import choose_variant, load


def _py(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def test_import_loads_neither_cffi_nor_library():
    out = _py("import sys, hook.nvc, hook.nvc.rules, hook.nvc.configure; "
              "print(sorted(m for m in sys.modules if 'cffi' in m or m.startswith('hook.nvc._nvc_ffi')))")
    assert out == "[]"


def test_loading_uses_only_cffi_backend(fake):
    out = _py(f"import sys; from hook.nvc.configure import load; lib = load({str(FAKE_LIB)!r}, ''); "
              "print(sorted(m for m in sys.modules if 'cffi' in m or 'pycparser' in m))")
    assert out == "['_cffi_backend']"


def test_generated_modules_are_out_of_line_abi_mode():
    for variant in (115, 105, 101):
        text = (REPO / "hook" / "nvc" / f"_nvc_ffi_{variant}.py").read_text()
        assert "import _cffi_backend" in text and "import cffi" not in text


@pytest.mark.parametrize("path, version, variant, imex, sizes", [
    (FAKE_LIB, (1, 17, 8), 115, True, (40, 112, 88, 56)),
    (FAKE_LIB_105, (1, 14, 0), 105, False, (24, 112, 88, 56)),
    (FAKE_LIB_101, (1, 4, 0), 101, False, (24, 96, 88, 56)),
])
def test_variants(fake, path, version, variant, imex, sizes):
    lib = load(str(path), "")
    assert (lib.version, lib.variant, lib.has_imex, lib.path) == (version, variant, imex, str(path))
    assert tuple(lib.ffi.sizeof(f"struct {s}") for s in
                 ("nvc_config", "nvc_driver_info", "nvc_device", "nvc_container_config")) == sizes
    lib.close()


def test_version_from_library_at_run_time(fake, monkeypatch):
    monkeypatch.setenv("FAKE_NVC_VERSION", "1.20.0")
    lib = load(str(FAKE_LIB), "")
    assert (lib.version, lib.version_string) == ((1, 20, 0), "1.20.0")
    lib.close()


@pytest.mark.parametrize("version", ["1.0.0", "0.9.1", "2.0.0"])
def test_unsupported_versions(fake, monkeypatch, version):
    monkeypatch.setenv("FAKE_NVC_VERSION", version)
    with pytest.raises(LibraryUnavailable) as exc:
        load(str(FAKE_LIB_101), "")
    assert str(exc.value) == f"libnvidia-container.so.1 version {version} is not supported (need 1.x >= 1.1.0)"


def test_choose_variant():
    assert choose_variant((1, 14, 5), True) == 115       # symbol probe wins over the number
    assert choose_variant((1, 15, 0), False) == 105
    assert choose_variant((1, 5, 0), False) == 105
    assert choose_variant((1, 4, 9), False) == 101


def test_missing_library():
    with pytest.raises(LibraryUnavailable) as exc:
        load("/nonexistent/libnvidia-container.so.1", "")
    assert str(exc.value).startswith("cannot load libnvidia-container.so.1: ")
    assert "/nonexistent/libnvidia-container.so.1" in str(exc.value)


def test_search_under_driver_root_first(fake, tmp_path):
    root = tmp_path / "drv"
    (root / "usr" / "lib64").mkdir(parents=True)
    (root / "usr" / "lib64" / "libnvidia-container.so.1").symlink_to(FAKE_LIB_105)
    assert candidates(None, str(root))[:len(LIB_DIRS)] == [str(root / d / "libnvidia-container.so.1")
                                                          for d in LIB_DIRS]
    assert candidates("/x/lib.so", str(root)) == ["/x/lib.so"]
    assert find_library(None, str(root)) == str(root / "usr" / "lib64" / "libnvidia-container.so.1")
    lib = load(None, str(root))
    assert (lib.path, lib.variant) == (str(root / "usr" / "lib64" / "libnvidia-container.so.1"), 105)
    lib.close()


def test_default_loader_path(fake, monkeypatch):
    env = dict(os.environ, LD_LIBRARY_PATH=str(FAKE_LIB.parent))
    out = subprocess.run([sys.executable, "-c", "from hook.nvc.configure import load; l = load(None, ''); "
                          "print(l.path, l.variant)"], cwd=REPO, env=env, check=True, capture_output=True,
                         text=True).stdout.strip()
    if os.path.exists("/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"):
        pytest.fail("a real libnvidia-container is installed on this host; this test expects none")
    assert out == "libnvidia-container.so.1 115"


def test_library_path_imports_nothing_heavy(fake):
    """The hook keeps re/typing/enum/dataclasses/threading off its start-up path; so does the library path."""
    code = ("import sys; before = set(sys.modules); import hook.nvc, hook.nvc.configure; "
            "from hook.nvc.configure import load; from hook.plan import GlobalOptions, Plan; "
            f"lib = load({str(FAKE_LIB)!r}, ''); "
            "print(sorted(set(sys.modules) - before))")
    added = set(ast.literal_eval(_py(code)))
    assert added & {"re", "typing", "enum", "dataclasses", "threading", "signal", "importlib.util", "cffi",
                    "glob", "inspect"} == set()
    assert "_cffi_backend" in added and "hook.nvc._nvc_ffi_115" in added


@pytest.mark.parametrize("path, imex", [(FAKE_LIB, True), (FAKE_LIB_105, False), (FAKE_LIB_101, False)])
def test_fake_exports_exactly_what_the_injector_calls(path, imex):
    from hook.nvc.configure import SYMBOLS

    out = subprocess.run(["nm", "-D", "--defined-only", str(path)], check=True, capture_output=True, text=True)
    exported = {line.split()[-1].split("@")[0] for line in out.stdout.splitlines() if " T " in line}
    assert exported == set(SYMBOLS) | ({"nvc_imex_channel_mount"} if imex else set())
