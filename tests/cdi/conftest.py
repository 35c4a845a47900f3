"""Fixtures of the CDI tests: the fake driver root (spec_fixtures/fake-driver/mkroot.sh, needs root,
gcc, ldconfig, mknod) built once per session, and the venv's nvidia-ctk / nvidia-cdi-hook."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "spec_fixtures"
VENV_BIN = ROOT / ".venv" / "bin"


@pytest.fixture(scope="session")
def driver_root(tmp_path_factory) -> Path:
    assert os.geteuid() == 0, "the CDI tests need root (device nodes of the fake driver, mount namespaces)"
    root = tmp_path_factory.mktemp("cdi") / "driver-root"
    subprocess.run(["sh", str(FIXTURES / "fake-driver" / "mkroot.sh"), str(root)], check=True,
                   capture_output=True)
    return root


@pytest.fixture(scope="session")
def ctk_bin() -> Path:
    p = VENV_BIN / "nvidia-ctk"
    assert p.exists(), f"{p} missing: run ./build.sh"
    return p


@pytest.fixture(scope="session")
def cdi_hook_bin() -> Path:
    p = VENV_BIN / "nvidia-cdi-hook"
    assert p.exists(), f"{p} missing: run ./build.sh"
    return p
