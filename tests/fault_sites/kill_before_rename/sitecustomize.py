"""Fault injected from outside the program: a Python started with this directory on ``PYTHONPATH``
imports this module at start-up (``site``), before the program's own code; its first ``os.rename`` or
``os.replace`` (``hook/atomicfile.py`` renaming a complete temporary file over its target) SIGKILLs
the process instead.  ``posix``'s functions are replaced too, before ``hook.oslite`` re-exports them.
Use it through ``faults.KILL_BEFORE_RENAME``."""

import os
import posix
import signal


def _kill_before_rename(src, dst, *, src_dir_fd=None, dst_dir_fd=None):
    os.kill(os.getpid(), signal.SIGKILL)


os.replace = os.rename = posix.replace = posix.rename = _kill_before_rename
