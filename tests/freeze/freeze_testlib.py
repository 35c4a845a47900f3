"""Helpers of the frozen-binary tests: where the binary is, building one, a Python-free environment."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from paths import DIST, FIXTURES, ROOT, SHARED, VENV_PYTHON

DIST_BIN = DIST / "nvidia-container-runtime-hook"
BUILD_SH = ROOT / "freeze" / "build.sh"
CORPUS_CANDIDATES = (FIXTURES, SHARED / "golden")

# What a node without Python looks like from the environment: no PYTHON* variables,
# only the system directories on PATH.
CLEAN_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


def sources_newer_than(binary: Path) -> list[Path]:
    """hook/ and freeze/ sources modified after ``binary`` was built."""
    built = binary.stat().st_mtime
    paths = list((ROOT / "hook").rglob("*.py")) + [ROOT / "freeze" / "launcher.c", ROOT / "freeze" / "mkfrozen.py"]
    return [p for p in paths if p.stat().st_mtime > built]


def build(out: Path, root: Path | None = None, *extra: str) -> Path:
    """Run freeze/build.sh into ``out`` (scratch files beside it)."""
    args = [str(BUILD_SH), "--out", str(out), "--build", str(out.parent / (out.name + ".build"))]
    if root is not None:
        args += ["--root", str(root)]
    args += list(extra)
    env = dict(os.environ, PYTHON=str(VENV_PYTHON))
    proc = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
    assert proc.returncode == 0, f"freeze/build.sh failed:\n{proc.stdout}\n{proc.stderr}"
    return out


def fresh_copy(binary: Path, directory: Path) -> Path:
    """The binary alone in a fresh directory (nothing of the build beside it)."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / "nvidia-container-runtime-hook"
    shutil.copy2(binary, target)
    return target


def corpus() -> tuple[Path, Path]:
    """(check_hook.py, corpus directory): the repository's copy, else ../shared/golden."""
    for base in CORPUS_CANDIDATES:
        if (base / "check_hook.py").exists() and (base / "hook").is_dir():
            return base / "check_hook.py", base / "hook"
    raise AssertionError("golden hook corpus missing (spec_fixtures/hook and spec_fixtures/check_hook.py)")
