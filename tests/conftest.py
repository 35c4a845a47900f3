"""Shared fixtures: the venv entry points and the golden corpora.

Puts ``spec_fixtures`` (the golden checkers) and ``tests`` (``paths``, the one place that knows the
repository's layout; ``oci_bundle``, the busybox rootfs and OCI bundles; ``daemons``, starting and
stopping real daemons) on ``sys.path`` for every test directory."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
from paths import FIXTURES, HOOK_BIN  # noqa: E402

if str(FIXTURES) not in sys.path:
    sys.path.insert(0, str(FIXTURES))


@pytest.fixture(scope="session")
def hook_bin() -> Path:
    """The venv console script (built by ./build.sh); its absence is a broken install."""
    assert HOOK_BIN.exists(), f"{HOOK_BIN} missing: run ./build.sh"
    return HOOK_BIN
