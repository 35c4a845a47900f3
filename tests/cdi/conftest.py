"""Fixtures of the CDI tests: the venv's nvidia-ctk / nvidia-cdi-hook (the fake driver root,
``driver_root``, is in ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"


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
