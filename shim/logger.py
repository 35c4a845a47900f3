"""The shim's logrus-style logger (runtime.md §5): the config's ``debug`` file and runc's ``--log``
file, text or JSON lines, and the one error line on stderr.

Nothing is written to stdout or stderr on success; with no log file, log lines are discarded.
"""

from __future__ import annotations

import sys

from hook import oslite

LEVELS = {"panic": 0, "fatal": 1, "error": 2, "warn": 3, "warning": 3, "info": 4, "debug": 5, "trace": 6}
_PLAIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._/@^+")


class Logger:
    """Log lines go to every open file whose level allows them."""

    def __init__(self) -> None:
        self.fds: list[int] = []
        self.requested: list[str] = []  # the destinations asked for, opened or not
        self.level = LEVELS["info"]
        self.json = False
        self.warned = False  # setup had something to say (a bad level, a file it could not open)

    def setup(self, paths: list[str], json_format: bool, debug: bool, level_name: str) -> None:
        """Open the destinations (§5.1) and choose level and format (§5.2)."""
        self.json = json_format
        self.requested = list(paths)
        warning = None
        if debug:
            self.level = LEVELS["debug"]
        else:
            level = LEVELS.get(level_name.lower())
            if level is None:
                warning = f"Error getting log level: invalid log-level '{level_name}'"
            else:
                self.level = level
        for path in paths:
            if not path or path == "/dev/null":
                continue
            fd = _open_append(path)
            if fd is None:
                warning = warning or f"Failed to open log file {path}"
            else:
                self.fds.append(fd)
        self.warned = warning is not None
        if warning:
            self.log("warning", warning)

    def enabled(self, level: str) -> bool:
        return bool(self.fds) and LEVELS[level] <= self.level

    def silent(self, opened_anyway: str = "") -> bool:
        """Whether a pass-through call with this setup writes nothing anywhere, whatever ``--log`` it
        is given: its lines are ``trace`` and ``debug`` ones, setup had no warning, and no file is opened
        (so maybe created) but ``opened_anyway`` (runc's ``--log``, which runc opens).  Decided from the
        setup, not from what this call happened to write (with no file open it writes nothing)."""
        return (self.level < LEVELS["debug"] and not self.warned
                and all(p in ("", "/dev/null", opened_anyway) for p in self.requested))

    def log(self, level: str, message: str) -> None:
        if not self.enabled(level):
            return
        line = (format_json if self.json else format_text)(level, message).encode("utf-8", "surrogateescape")
        for fd in self.fds:
            try:
                oslite.write(fd, line + b"\n")
            except OSError:
                pass

    def debug(self, message: str) -> None:
        self.log("debug", message)

    def info(self, message: str) -> None:
        self.log("info", message)

    def warning(self, message: str) -> None:
        self.log("warning", message)

    def trace(self, message: str) -> None:
        self.log("trace", message)

    def close(self) -> None:
        for fd in self.fds:
            try:
                oslite.close(fd)
            except OSError:
                pass
        self.fds = []

    def fail(self, message: str) -> int:
        """§5.4: log ``message`` at level error, write it to stderr as a logfmt line; returns 1."""
        from hook.log import logrus_text

        self.log("error", message)
        self.close()
        sys.stdout.flush()
        sys.stderr.write(logrus_text("error", message) + "\n")
        sys.stderr.flush()
        return 1


def _open_append(path: str) -> int | None:
    from hook.gocompat import clean

    cleaned = clean(path)
    parent = oslite.dirname(cleaned)
    try:
        if parent and not oslite.isdir(parent):
            oslite.makedirs(parent, mode=0o755, exist_ok=True)
        return oslite.open(cleaned, oslite.O_WRONLY | oslite.O_APPEND | oslite.O_CREAT | oslite.O_CLOEXEC, 0o644)
    except (OSError, ValueError):
        return None


def format_text(level: str, message: str) -> str:
    """logrus' text formatter: ``time="..." level=<level> msg=<message, quoted when needed>``."""
    from hook.gocompat import quote as go_quote
    from hook.log import rfc3339_now

    msg = message if message and all(c in _PLAIN for c in message) else go_quote(message)
    return f'time="{rfc3339_now()}" level={level} msg={msg}'


def format_json(level: str, message: str) -> str:
    """logrus' JSON formatter: sorted keys ``level``, ``msg``, ``time``."""
    from _json import encode_basestring

    from hook.log import rfc3339_now

    return f'{{"level":"{level}","msg":{encode_basestring(message)},"time":"{rfc3339_now()}"}}'
