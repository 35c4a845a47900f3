"""Fixtures of the frozen-binary tests."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from freeze_testlib import (DIST, DIST_BIN, build, fresh_copy, python_for,  # noqa: E402
                            pythons_under_test, sources_newer_than)


def _current(binary: Path, python: Path, tmp_path_factory) -> Path:
    """``binary`` copied alone into a fresh directory; rebuilt with ``python`` first when the
    sources are newer (a developer editing without ./build.sh), so no test judges a stale one."""
    if sources_newer_than(binary):
        assert python.exists(), f"{python} missing: run ./build.sh pythons"
        binary = build(tmp_path_factory.mktemp("rebuilt") / "nvidia-container-runtime-hook", python=python)
    return fresh_copy(binary, tmp_path_factory.mktemp("fresh"))


@pytest.fixture(scope="session")
def frozen_bin(tmp_path_factory) -> Path:
    """The default frozen binary (dist/, built by ./build.sh), copied alone into a fresh directory.

    Its absence is a broken build, not a skip."""
    assert DIST_BIN.exists(), f"{DIST_BIN} missing: run ./build.sh dist"
    return _current(DIST_BIN, python_for(DIST_BIN.resolve().parent.name[2:]), tmp_path_factory)


def pytest_generate_tests(metafunc):
    if "py_frozen_bin" in metafunc.fixturenames:
        metafunc.parametrize("py_frozen_bin", pythons_under_test(), indirect=True,
                             ids=lambda v: f"py{v}")


@pytest.fixture(scope="session")
def py_frozen_bin(request, tmp_path_factory) -> Path:
    """The frozen binary built with CPython ``request.param`` (dist/py3.X/, ./build.sh pythons)."""
    binary = DIST / f"py{request.param}" / "nvidia-container-runtime-hook"
    assert binary.exists(), f"{binary} missing: ./build.sh pythons did not build CPython {request.param}"
    return _current(binary, python_for(request.param), tmp_path_factory)
