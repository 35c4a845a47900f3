"""Faults injected into a child Python program from outside (never a test seam in shipped code).

Each is an environment to add to the child's: ``PYTHONPATH`` names a directory of ``fault_sites/``
whose ``sitecustomize`` Python imports at start-up, before the program, and which patches the
standard library the program calls.  A program that ignores the environment (``python -I``) gets no
fault, and the test that expects it fails.
"""

from __future__ import annotations

from paths import TESTS

__all__ = ["KILL_BEFORE_RENAME"]

_SITES = TESTS / "fault_sites"

#: The process SIGKILLs itself at its first ``rename``/``replace`` (``os``'s or ``posix``'s): after a temporary file is
#: complete, before it replaces its target (``hook/atomicfile.py``).
KILL_BEFORE_RENAME = {"PYTHONPATH": str(_SITES / "kill_before_rename")}
