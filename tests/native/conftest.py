"""Fixtures of the libnvidia-container binding tests (fake library from ./build.sh native)."""

from __future__ import annotations

from pathlib import Path

import pytest

from nvc_testlib import FakeLog, require_build, wait_single_threaded


def pytest_collection_modifyitems(config, items) -> None:
    """A test here with the fake library (fixture ``fake``) runs the library in this process, whose
    injector refuses threads: it is ``single_threaded`` (forked in a pytest-xdist worker)."""
    here = Path(__file__).parent
    for item in items:
        if item.path.is_relative_to(here) and "fake" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.single_threaded)


@pytest.fixture
def fake(tmp_path, monkeypatch) -> FakeLog:
    """Dry-run fake (records calls, no system effects) with its log in tmp_path."""
    require_build()
    wait_single_threaded()
    for var in ("FAKE_NVC_CONFIG", "FAKE_NVC_FAIL", "FAKE_NVC_VERSION", "FAKE_NVC_STRICT", "FAKE_NVC_QUIRKS",
                "FAKE_NVC_THREADCHECK", "FAKE_NVC_DRIVER_ROOT", "FAKE_NVC_ACCEPT_NO_CNTLIBS", "NVC_DEBUG_FILE"):
        monkeypatch.delenv(var, raising=False)
    log = tmp_path / "nvc.jsonl"
    monkeypatch.setenv("FAKE_NVC_LOG", str(log))
    monkeypatch.setenv("FAKE_NVC_DRY_RUN", "1")
    return FakeLog(log)


@pytest.fixture
def sim_config(tmp_path, monkeypatch):
    """Write a FAKE_NVC_CONFIG simulation file: sim_config("gpu.count = 1", ...)."""
    def write(*lines: str) -> Path:
        path = tmp_path / "sim.conf"
        path.write_text("\n".join(lines) + "\n")
        monkeypatch.setenv("FAKE_NVC_CONFIG", str(path))
        return path
    return write
