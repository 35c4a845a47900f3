"""Fixtures of the frozen-binary tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from freeze_testlib import DIST_BIN, build, fresh_copy, sources_newer_than  # noqa: E402


@pytest.fixture(scope="session")
def frozen_bin(tmp_path_factory) -> Path:
    """The frozen hook (dist/, built by ./build.sh), copied alone into a fresh directory.

    Its absence is a broken build, not a skip.  When hook/ or freeze/ sources are newer
    than dist/ (a developer editing without ./build.sh dist), a fresh one is built into
    a temporary directory instead, so the tests never judge a stale binary.
    """
    assert DIST_BIN.exists(), f"{DIST_BIN} missing: run ./build.sh dist"
    binary = DIST_BIN
    if sources_newer_than(DIST_BIN):
        binary = build(tmp_path_factory.mktemp("rebuilt") / "nvidia-container-runtime-hook")
    return fresh_copy(binary, tmp_path_factory.mktemp("fresh"))
