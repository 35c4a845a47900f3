"""Fixtures of the CDI tests: the venv's nvidia-ctk / nvidia-cdi-hook (the fake driver root,
``driver_root``, is in ``tests/conftest.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from paths import CDI_HOOK_BIN, CTK_BIN


@pytest.fixture(scope="session")
def ctk_bin() -> Path:
    p = CTK_BIN
    assert p.exists(), f"{p} missing: run ./build.sh"
    return p


@pytest.fixture(scope="session")
def cdi_hook_bin() -> Path:
    p = CDI_HOOK_BIN
    assert p.exists(), f"{p} missing: run ./build.sh"
    return p
