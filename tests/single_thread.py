"""Running a test where no other thread exists: the library injector (``hook/nvc``) refuses a process
with threads, and a pytest-xdist worker has one (execnet's I/O thread).  ``tests/conftest.py`` runs a
test marked ``single_threaded`` through :func:`forked` when :func:`threads` says so."""

from __future__ import annotations

import os
import pickle
import traceback
from collections.abc import Callable

__all__ = ["forked", "threads"]


def threads() -> int:
    """Threads of this process (``Threads:`` of /proc/self/status)."""
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("Threads:"))


def forked(runtest: Callable[[], object]) -> Callable[[], None]:
    """``runtest`` run in a forked child, which has one thread; what it raised is raised here (with
    the child's traceback as a note), and a child that dies without a word fails the test."""
    def run() -> None:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                try:
                    runtest()
                    outcome = None
                except BaseException as exc:  # noqa: BLE001 - handed to the parent as it is
                    exc.add_note("in the forked child:\n" + "".join(traceback.format_exception(exc)))
                    outcome = exc
                try:
                    data = pickle.dumps(outcome)
                    pickle.loads(data)
                except Exception:  # noqa: BLE001 - an exception that does not survive pickling
                    data = pickle.dumps(AssertionError("".join(traceback.format_exception(outcome))))
                with os.fdopen(w, "wb") as out:
                    out.write(data)
            finally:
                os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as inp:
            data = inp.read()
        _, status = os.waitpid(pid, 0)
        assert data, f"the forked test process died (wait status {status:#x})"
        outcome = pickle.loads(data)
        if outcome is not None:
            raise outcome
    return run
