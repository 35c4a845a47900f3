"""The hook's two kinds of stderr output: plain lines and logrus-style warnings (hook.md §1.7)."""

from __future__ import annotations

import sys

from . import oslite
from .gocompat import quote


def line(text: str) -> None:
    """A plain diagnostic line (no timestamp, no level)."""
    sys.stderr.write(text + "\n")


def warning(message: str) -> None:
    """A warning in logrus' text format (``WARN[0000]`` on a terminal)."""
    try:
        tty = oslite.isatty(2)
    except OSError:
        tty = False
    if tty:
        sys.stderr.write(f"\x1b[33mWARN\x1b[0m[0000] {message}\n")
        return
    sys.stderr.write(logrus_text("warning", message) + "\n")


def logrus_text(level: str, message: str) -> str:
    """logrus' text format: ``time="<RFC3339 local>" level=<level> msg=<Go-quoted message>``."""
    return f'time="{rfc3339_now()}" level={level} msg={quote(message)}'


def rfc3339_now() -> str:
    """The current local time as logrus stamps it (RFC 3339, seconds, ``Z`` or ``+hh:mm``)."""
    import time

    lt = time.localtime()
    off = lt.tm_gmtoff or 0
    if off == 0:
        zone = "Z"
    else:
        sign = "+" if off > 0 else "-"
        off = abs(off)
        zone = f"{sign}{off // 3600:02d}:{off % 3600 // 60:02d}"
    return time.strftime("%Y-%m-%dT%H:%M:%S", lt) + zone


