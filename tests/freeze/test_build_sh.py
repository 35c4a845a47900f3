"""./build.sh and freeze/build.sh: prerequisites checked up front, one-line errors, a CPython
version that cannot be built fails the build."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from freeze_testlib import ROOT, SUPPORTED_PYTHONS, VENV_PYTHON, pythons_under_test, version_of

DEBIAN = "gcc libc6-dev binutils python3 python3-venv python3-dev libffi-dev"


def sh(args, cwd=ROOT, **env):
    base = {k: v for k, v in os.environ.items() if k not in ("PYTHON", "PYTHONS", "CC")}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=dict(base, **env), timeout=120)


def not_python(tmp_path: Path) -> Path:
    fake = tmp_path / "python3"
    fake.write_text("#!/bin/sh\necho 'python3: not this one' >&2\nexit 1\n")
    fake.chmod(0o755)
    return fake


def test_missing_compiler_names_the_debian_packages():
    res = sh(["./build.sh", "dist"], CC="/nonexistent/gcc")
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == ("build.sh: missing /nonexistent/gcc; a fresh Debian machine needs: "
                          f"apt-get install {DEBIAN}\n")


def test_unusable_python_is_refused_before_anything_is_built(tmp_path):
    fake = not_python(tmp_path)
    res = sh(["./build.sh", "venv"], PYTHON=str(fake))
    assert (res.returncode, res.stdout, res.stderr) == (1, "", f"build.sh: PYTHON={fake} does not run\n")


def test_freeze_build_stops_with_the_pythons_own_error(tmp_path):
    """Not `LIBPL: unbound variable`: a Python that cannot say where its libpython is stops the build."""
    res = sh([str(ROOT / "freeze" / "build.sh"), "--out", str(tmp_path / "out")], PYTHON=str(not_python(tmp_path)))
    assert res.returncode == 1
    assert res.stderr == "python3: not this one\n"
    assert not (tmp_path / "out").exists()


def test_pythons_refuses_an_unsupported_version_before_building_any():
    res = sh(["./build.sh", "pythons"], PYTHONS="3.11 3.10")
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == "build.sh: PYTHONS: 3.10 is not a supported version (3.11 3.12 3.13)\n"


def test_pythons_fails_for_a_named_version_that_is_not_here(tmp_path):
    """CI names every version: one that cannot be found fails the build, it is not skipped."""
    venv_version = version_of(VENV_PYTHON)
    absent = [v for v in SUPPORTED_PYTHONS if v != venv_version
              and not any(os.path.exists(f"{d}/python{v}") for d in ("/usr/bin", "/usr/local/bin"))]
    assert absent, "every supported version is installed system-wide: nothing to hide"
    tree = tmp_path / "tree"
    tree.mkdir()
    shutil.copy2(ROOT / "build.sh", tree / "build.sh")
    (tree / ".venv").symlink_to(ROOT / ".venv")
    res = sh(["./build.sh", "pythons"], cwd=tree, PYTHONS=absent[0], PYENV_ROOT=str(tmp_path / "no-pyenv"),
             PATH="/usr/bin:/bin")
    assert (res.returncode, res.stdout) == (1, "")
    assert res.stderr == (f"build.sh: PYTHONS names {absent[0]}, but no usable CPython {absent[0]} (with venv and "
                          f"libpython{absent[0]}.a) is here; run ./build.sh python to see what was found\n")
    assert not (tree / "dist").exists()


def test_a_version_ci_names_is_tested_even_when_it_was_not_built(monkeypatch):
    """The binaries' tests are parametrised over what $PYTHONS names too: a version missing from
    dist/ is a failing test (its fixture asserts the binary exists), never a silent gap."""
    monkeypatch.setenv("PYTHONS", "3.13 3.99")
    assert "3.99" in pythons_under_test()
    monkeypatch.delenv("PYTHONS")
    assert "3.99" not in pythons_under_test()
