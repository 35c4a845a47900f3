"""Helpers of the frozen-binary tests: where the binaries are, building one, a Python-free environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from paths import BUILD, DIST, DIST_BIN, ROOT, VENV_PYTHON

SUPPORTED_PYTHONS = ("3.11", "3.12", "3.13")  # build.sh's PY_VERSIONS, best first
BUILD_SH = ROOT / "freeze" / "build.sh"

# What a node without Python looks like from the environment: no PYTHON* variables,
# only the system directories on PATH.
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def sources_newer_than(binary: Path) -> list[Path]:
    """Sources of the frozen programs (hook/, ctk/, ...) and of freeze/ modified after ``binary`` was built."""
    from freeze.programs import PROGRAMS, package_of

    built = binary.stat().st_mtime
    paths = [ROOT / "freeze" / name for name in ("launcher.c", "mkfrozen.py", "programs.py")]
    for package in dict.fromkeys(package_of(e) for e in PROGRAMS.values()):
        paths += (ROOT / package).rglob("*.py")
    return [p for p in paths if p.stat().st_mtime > built]


def version_of(python: Path) -> str:
    return subprocess.run([str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                          capture_output=True, text=True, check=True).stdout.strip()


def python_for(version: str) -> Path:
    """The interpreter ./build.sh builds dist/py<version>/ with: the venv's, else build/venv-<version>."""
    if version_of(VENV_PYTHON) == version:
        return VENV_PYTHON
    return BUILD / f"venv-{version}" / "bin" / "python"


def pythons_under_test() -> list[str]:
    """The versions of dist/py3.X/, and every one $PYTHONS names (CI names all three): its
    binary must be there, so a version that did not build fails instead of going unnoticed."""
    built = {p.parent.name[2:] for p in DIST.glob("py3.*/nvidia-container-runtime-hook")}
    wanted = set(os.environ.get("PYTHONS", "").split())
    return sorted(built | wanted, key=lambda v: tuple(int(x) for x in v.split(".")))


def build(out: Path, root: Path | None = None, *extra: str, python: Path = VENV_PYTHON) -> Path:
    """Run freeze/build.sh with ``python`` into ``out`` (scratch files beside it)."""
    args = [str(BUILD_SH), "--out", str(out), "--build", str(out.parent / (out.name + ".build"))]
    if root is not None:
        args += ["--root", str(root)]
    args += list(extra)
    env = dict(os.environ, PYTHON=str(python))
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"freeze/build.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def current(binary: Path, python: Path, tmp_path_factory) -> Path:
    """``binary`` copied alone into a fresh directory; rebuilt with ``python`` first when the
    sources are newer (a developer editing without ./build.sh), so no test judges a stale one."""
    if sources_newer_than(binary):
        assert python.exists(), f"{python} missing: run ./build.sh pythons"
        binary = build(tmp_path_factory.mktemp("rebuilt") / "nvidia-container-runtime-hook", python=python)
    return fresh_copy(binary, tmp_path_factory.mktemp("fresh"))


def current_dist(tmp_path_factory) -> Path:
    """The default frozen binary (dist/, built by ./build.sh), current, alone in a fresh directory.

    Its absence is a broken build, not a skip."""
    assert DIST_BIN.exists(), f"{DIST_BIN} missing: run ./build.sh dist"
    return current(DIST_BIN, python_for(DIST_BIN.resolve().parent.name[2:]), tmp_path_factory)


def fresh_copy(binary: Path, directory: Path) -> Path:
    """The binary alone in a fresh directory (nothing of the build beside it)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "nvidia-container-runtime-hook"
    shutil.copy2(binary, target)
    return target
