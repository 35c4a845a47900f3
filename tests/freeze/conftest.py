"""Fixtures of the frozen-binary tests (``frozen_bin``, the default binary, is tests/conftest.py's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from freeze_testlib import DIST, current, python_for, pythons_under_test


def pytest_generate_tests(metafunc):
    if "py_frozen_bin" in metafunc.fixturenames:
        metafunc.parametrize("py_frozen_bin", pythons_under_test(), indirect=True,
                             ids=lambda v: f"py{v}")


@pytest.fixture(scope="session")
def py_frozen_bin(request, tmp_path_factory) -> Path:
    """The frozen binary built with CPython ``request.param`` (dist/py3.X/, ./build.sh pythons)."""
    binary = DIST / f"py{request.param}" / "nvidia-container-runtime-hook"
    assert binary.exists(), f"{binary} missing: ./build.sh pythons did not build CPython {request.param}"
    return current(binary, python_for(request.param), tmp_path_factory)
