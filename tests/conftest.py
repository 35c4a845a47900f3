"""Shared fixtures: paths of the project, the venv entry points and the golden corpora."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "spec_fixtures"
VENV_BIN = ROOT / ".venv" / "bin"
HOOK_BIN = VENV_BIN / "nvidia-container-runtime-hook"

if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))


@pytest.fixture(scope="session")
def hook_bin() -> Path:
    """The venv console script (built by ./build.sh); its absence is a broken install."""
    assert HOOK_BIN.exists(), f"{HOOK_BIN} missing: run ./build.sh"
    return HOOK_BIN
