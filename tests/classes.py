"""Which exception classes a run of one of the programs creates (listed when the run ends, and before
an ``exec``, so that a run that ends in one is measured too).  A run that succeeds creates none: each
family is created when first named (``hook.values.lazy_classes``, ``lazy_exception``), and a class costs
60-100 k instructions to create."""

from __future__ import annotations

import sys

# Every exception class of the programs' packages is listed by walking BaseException's subclasses
# (whatever made it: a class statement or ``type()``, as lazy_exception does); nothing of those
# packages exists before the program is imported.
_DRIVER = r"""
import posix, sys
_listed = set()
def _list():
    todo = [BaseException]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        name = f"{cls.__module__}.{cls.__qualname__}"
        if cls.__module__.split(".")[0] in PACKAGES and name not in _listed:
            _listed.add(name)
            posix.write(2, f"exception class: {name}\n".encode())
def _listing_first(call):
    def wrapper(*args, **kwargs):
        _list()
        return call(*args, **kwargs)
    return wrapper
for _name in ("execv", "execve", "_exit"):  # before the programs bind them (hook.oslite)
    setattr(posix, _name, _listing_first(getattr(posix, _name)))
module, _, function = sys.argv.pop(1).partition(":")
try:
    sys.exit(getattr(__import__(module, fromlist=[function]), function)())
finally:
    _list()
"""

PACKAGES = ("hook", "shim", "cdi", "ctk")


def command(entry: str) -> list[str]:
    """The command line that runs ``module:function`` (which reads ``sys.argv[1:]``) recording classes."""
    return [sys.executable, "-c", f"PACKAGES = {PACKAGES!r}\n{_DRIVER}", entry]


def created(stderr: str | bytes) -> list[str]:
    """The exception classes the run created (``module.Name``)."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    return [line.split(": ", 1)[1] for line in stderr.splitlines() if line.startswith("exception class: ")]
