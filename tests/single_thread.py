"""Running a test where no other thread exists: the library injector (``hook/nvc``) refuses a process
with threads, and a pytest-xdist worker has one (execnet's I/O thread).  ``tests/conftest.py`` runs
a test marked ``single_threaded`` through :func:`run_protocol_forked` when :func:`threads` says so:
its whole protocol (fixtures, call, teardown) in a forked child, which has only the forking thread.
"""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable
from typing import TypeVar

import pytest

__all__ = ["forked", "run_protocol_forked", "threads"]

T = TypeVar("T")


def threads() -> int:
    """Threads of this process (``Threads:`` of /proc/self/status)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def forked(fn: Callable[[], T]) -> Callable[[], T]:
    """``fn`` run in a forked child, which has one thread: its return value (pickled) is returned here,
    what it raised is raised here (with the child's traceback as a note), and a child that dies without
    a word raises AssertionError."""
    def run() -> T:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                try:
                    outcome = (True, fn())
                except BaseException as exc:  # noqa: BLE001 - handed to the parent as it is
                    exc.add_note("in the forked child:\n" + "".join(traceback.format_exception(exc)))
                    outcome = (False, exc)
                try:
                    data = pickle.dumps(outcome)
                    pickle.loads(data)
                except Exception:  # noqa: BLE001 - an outcome that does not survive pickling
                    text = "".join(traceback.format_exception(outcome[1])) if not outcome[0] else repr(outcome[1])
                    data = pickle.dumps((False, AssertionError(text)))
                with os.fdopen(w, "wb") as out:
                    out.write(data)
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as inp:
            data = inp.read()
        _, status = os.waitpid(pid, 0)
        assert data, f"the forked test process died (wait status {status:#x})"
        ok, value = pickle.loads(data)
        if not ok:
            raise value
        return value
    return run


def run_protocol_forked(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """``pytest_runtest_protocol`` of ``item`` with setup, call and teardown in a forked child, the
    reports logged here.  The child tears down only the item's own fixtures (``nextitem=item``); the
    rest (what the previous items set up here) is torn down here, as ``nextitem`` needs."""
    from _pytest.runner import runtestprotocol

    config = item.config
    ihook = item.ihook

    def child() -> list[dict]:
        for plugin in config.pluginmanager.get_plugins():   # xdist's channel belongs to the parent
            if type(plugin).__name__ == "WorkerInteractor":
                config.pluginmanager.unregister(plugin)
        return [config.hook.pytest_report_to_serializable(config=config, report=rep)
                for rep in runtestprotocol(item, log=False, nextitem=item)]

    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    try:
        reports = [config.hook.pytest_report_from_serializable(config=config, data=d) for d in forked(child)()]
    except BaseException as exc:  # noqa: BLE001 - the child died or pytest failed in it
        reports = [pytest.TestReport(item.nodeid, item.location, dict.fromkeys(item.keywords, 1), "failed",
                                     "".join(traceback.format_exception(exc)), "call")]
    for rep in reports:
        ihook.pytest_runtest_logreport(report=rep)
    item.session._setupstate.teardown_exact(nextitem)
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
