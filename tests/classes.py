"""Which exception classes a run of one of the programs creates (printed as it happens, so that a run
that ends in an ``exec`` is measured too).  A run that succeeds creates none: each family is created
when first named (``hook.values.lazy_classes``), and a class costs 60-100 k instructions to create."""

from __future__ import annotations

import sys

_DRIVER = r"""
import builtins, os, sys
_build = builtins.__build_class__
def _record(func, name, *bases, **kwargs):
    cls = _build(func, name, *bases, **kwargs)
    if isinstance(cls, type) and issubclass(cls, BaseException) and func.__module__.split(".")[0] in PACKAGES:
        os.write(2, f"exception class: {func.__module__}.{name}\n".encode())
    return cls
builtins.__build_class__ = _record
module, _, function = sys.argv.pop(1).partition(":")
sys.exit(getattr(__import__(module, fromlist=[function]), function)())
"""

PACKAGES = ("hook", "shim", "cdi", "ctk")


def command(entry: str) -> list[str]:
    """The command line that runs ``module:function`` (which reads ``sys.argv[1:]``) recording classes."""
    return [sys.executable, "-c", f"PACKAGES = {PACKAGES!r}\n{_DRIVER}", entry]


def created(stderr: str | bytes) -> list[str]:
    """The exception classes the run created, in order (``module.Name``)."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    return [line.split(": ", 1)[1] for line in stderr.splitlines() if line.startswith("exception class: ")]
