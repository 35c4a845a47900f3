"""Shared fixtures: paths of the project, the venv entry points and the golden corpora.

Puts ``spec_fixtures`` (the golden checkers), ``tests`` (``oci_bundle``, the busybox rootfs and
OCI bundles; ``toolkit_source``) and ``tests/e2e`` (``nvc_e2e_lib``, the in-container probe) on
``sys.path`` for every test directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "spec_fixtures"
TESTS = ROOT / "tests"
VENV_BIN = ROOT / ".venv" / "bin"
HOOK_BIN = VENV_BIN / "nvidia-container-runtime-hook"

for _path in (FIXTURES, TESTS, TESTS / "e2e"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


@pytest.fixture(scope="session")
def hook_bin() -> Path:
    """The venv console script (built by ./build.sh); its absence is a broken install."""
    assert HOOK_BIN.exists(), f"{HOOK_BIN} missing: run ./build.sh"
    return HOOK_BIN


@pytest.fixture(scope="session")
def driver_root(tmp_path_factory) -> Path:
    """The fake driver root (``spec_fixtures/fake-driver/mkroot.sh``: two GPUs, real device nodes, needs
    root, gcc, ldconfig, mknod), built once per session; it serves as driver root and dev root."""
    assert os.geteuid() == 0, "the fake driver root needs root (device nodes, mount namespaces)"
    root = tmp_path_factory.mktemp("cdi") / "driver-root"
    subprocess.run(["sh", str(FIXTURES / "fake-driver" / "mkroot.sh"), str(root)], check=True,
                   capture_output=True)
    return root
