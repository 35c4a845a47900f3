"""Paths and the call-log reader shared by the libnvidia-container tests (fake from ./build.sh native)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from paths import BUILD, FAKE_LIB
from paths import ROOT as REPO

FAKE = BUILD / "fake"
FAKE_LIB_105 = FAKE / "abi105" / "libnvidia-container.so.1"
FAKE_LIB_101 = FAKE / "abi101" / "libnvidia-container.so.1"
FAKE_DRIVER = FAKE / "driver"


def wait_single_threaded(timeout: float = 10.0) -> None:
    """Wait until this process has one thread again.  A joined thread can still be listed by the
    kernel for a moment after ``join()`` returns (its exit is not finished), and the fake, like
    the real library's ``setns``, refuses to work in a multi-threaded process."""
    import os
    import time

    deadline = time.monotonic() + timeout
    while len(os.listdir("/proc/self/task")) > 1:
        if time.monotonic() > deadline:
            pytest.fail(f"test process still has threads: {sorted(os.listdir('/proc/self/task'))}", pytrace=False)
        time.sleep(0.005)


def require_build() -> None:
    missing = [p for p in (FAKE_LIB, FAKE_LIB_105, FAKE_LIB_101, REPO / "hook" / "nvc" / "_nvc_ffi_115.py")
               if not p.exists()]
    if missing:
        pytest.fail(f"native build missing ({', '.join(map(str, missing))}): run ./build.sh native", pytrace=False)


class FakeLog:
    """The fake's JSON-lines call log (FAKE_NVC_LOG)."""

    def __init__(self, path: Path):
        self.path = path

    def records(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines()]

    def calls(self) -> list[str]:
        return [r["fn"] for r in self.records() if r["fn"] not in ("nvc_version", "__summary__")]

    def first(self, fn: str) -> dict:
        return next(r for r in self.records() if r["fn"] == fn)

    def all(self, fn: str) -> list[dict]:
        return [r for r in self.records() if r["fn"] == fn]

    def summary(self) -> dict:
        return [r for r in self.records() if r["fn"] == "__summary__"][-1]["args"]

    def clear(self) -> None:
        if self.path.exists():
            self.path.unlink()


