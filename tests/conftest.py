"""Shared fixtures and hooks: the venv entry points, the frozen binary, the golden corpora, the
pytest-xdist workers, ``single_threaded`` tests.

Puts ``spec_fixtures`` (the golden checkers), ``tests`` (``paths``, the one place that knows the
repository's layout; ``oci_bundle``, the busybox rootfs and OCI bundles; ``daemons``, starting and
stopping real daemons; ``toolkit_source``), ``tests/e2e`` (``nvc_e2e_lib``, the in-container
probe) and ``tests/freeze`` (``freeze_testlib``, building and finding the frozen binary) on
``sys.path`` for every test directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

_TESTS = str(Path(__file__).resolve().parent)
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)
from paths import FIXTURES, HOOK_BIN, TESTS  # noqa: E402
from single_thread import run_protocol_forked, threads  # noqa: E402

for _path in (FIXTURES, TESTS / "e2e", TESTS / "freeze"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))


@pytest.fixture(scope="session")
def hook_bin() -> Path:
    """The venv console script (built by ./build.sh); its absence is a broken install."""
    assert HOOK_BIN.exists(), f"{HOOK_BIN} missing: run ./build.sh"
    return HOOK_BIN


@pytest.fixture(scope="session")
def frozen_bin(tmp_path_factory) -> Path:
    """The default frozen binary (dist/, built by ./build.sh), copied alone into a fresh directory;
    rebuilt first when the sources are newer (``freeze_testlib.current_dist``), so no test judges a
    stale one.  Its absence is a broken build, not a skip."""
    from freeze_testlib import current_dist
    return current_dist(tmp_path_factory)


@pytest.fixture(scope="session")
def driver_root(tmp_path_factory) -> Path:
    """The fake driver root (``spec_fixtures/fake-driver/mkroot.sh``: two GPUs, real device nodes, needs
    root, gcc, ldconfig, mknod), built once per session; it serves as driver root and dev root."""
    assert os.geteuid() == 0, "the fake driver root needs root (device nodes, mount namespaces)"
    root = tmp_path_factory.mktemp("cdi") / "driver-root"
    subprocess.run(["sh", str(FIXTURES / "fake-driver" / "mkroot.sh"), str(root)], check=True,
                   capture_output=True)
    return root


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_auto_num_workers(config) -> int | None:
    """How many pytest-xdist workers ``-n auto`` (pyproject's addopts) starts.

    A pytest that a test starts (``PYTEST_CURRENT_TEST`` inherited: ``test_freeze_runc_e2e`` re-runs
    the runc suite with the frozen binary patched into ``nvc_e2e_lib``) runs in its own process, where
    the patch is.  Otherwise ``PYTEST_XDIST_AUTO_NUM_WORKERS`` when set (xdist reads it), else one per
    CPU: with no test much longer than the others (the frozen corpus is one test per case), more
    workers only add their start-up and import CPU (measured in docs/performance.md).
    """
    if "PYTEST_CURRENT_TEST" in os.environ:
        return 0
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return len(os.sched_getaffinity(0))


@pytest.hookimpl(tryfirst=True)
def pytest_xdist_make_scheduler(config, log):
    """``--dist loadgroup`` (pyproject's addopts) with the groups of the test files' ``pytestmark``
    (``tests/xdist_groups.py``: pytest-xdist's own grouping does not reach pytest 9)."""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist_groups import ModuleGroupScheduling
    return ModuleGroupScheduling(config, log)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_protocol(item, nextitem) -> bool | None:
    """A test marked ``single_threaded`` (it runs the library injector in-process, which refuses a
    process with threads) runs, fixtures included, in a forked child where this process has threads:
    in a pytest-xdist worker, whose execnet I/O thread would otherwise be counted."""
    if item.get_closest_marker("single_threaded") is None or threads() == 1:
        return None
    run_protocol_forked(item, nextitem)
    return True
