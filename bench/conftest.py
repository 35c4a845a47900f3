"""Benchmarks run in one process: pytest-benchmark disables itself under pytest-xdist, which
pyproject's addopts turn on (``-n auto``) for the test suite."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config) -> int:
    return 0
