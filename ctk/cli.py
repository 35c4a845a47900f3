"""``nvidia-ctk``: the command line, logging and dispatch to the commands.

Flags follow the reference (urfave/cli): ``--flag=value``, ``--flag value``, ``-flag``;
booleans take an optional ``=true|false``.  Every user error is one log line on standard
error and exit status 1; there is never a traceback for bad input.

Each command's module is imported when it runs: ``runtime configure|unconfigure``
(:mod:`ctk.runtime_cmd`), ``install|uninstall`` (:mod:`ctk.installer`), ``cdi``/``hook``/
``system`` (:mod:`cdi.cli`), so the CDI hooks, which run for every CDI container, import no
runtime-configuration code.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from hook import VERSION
from hook.gocompat import trim as go_trim_space
from hook.log import logrus_text

from .cli_flags import GLOBAL_FLAGS as _PERSISTENT_FLAGS
from . import cli_flags
from .cli_flags import Flag, parse_flags
from .common import log
from . import errors


# --------------------------------------------------------------------------- logging

class _LogrusFormatter(logging.Formatter):
    LEVELS = {"WARNING": "warning", "ERROR": "error", "INFO": "info", "DEBUG": "debug",
              "CRITICAL": "fatal"}

    def format(self, record: logging.LogRecord) -> str:
        return logrus_text(self.LEVELS.get(record.levelname, "info"), record.getMessage())


class _OncePerMessage(logging.Filter):
    """Drop a record identical to the previous one (a plan computed twice warns once)."""

    def __init__(self) -> None:
        super().__init__()
        self.last: tuple | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.levelno, record.getMessage())
        if key == self.last:
            return False
        self.last = key
        return True


def setup_logging(level: int) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_LogrusFormatter())
    handler.addFilter(_OncePerMessage())
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


# --------------------------------------------------------------------------- top level

GLOBAL_FLAGS = [*_PERSISTENT_FLAGS, Flag(("version", "v"), "bool", False, "print the version")]

USAGE = """NAME:
   nvidia-ctk - Tools to configure the NVIDIA Container Toolkit

USAGE:
   nvidia-ctk [global options] command [command options]

COMMANDS:
   runtime configure     Add a runtime to the specified container engine
   runtime unconfigure   Remove what configure added (restores the previous default)
   config                Show or edit the toolkit config file (--set KEY=VALUE, --in-place; config default)
   install               Install the toolkit and configure the runtime (installer flow)
   uninstall             Undo install
"""


def dispatch(argv: list[str]) -> int:
    try:
        g = parse_flags(GLOBAL_FLAGS, argv, stop_at_positional=True)
    except cli_flags.HelpRequested:
        sys.stdout.write(USAGE)
        return 0
    level = logging.INFO
    if g.values["debug"]:
        level = logging.DEBUG
    if g.values["quiet"]:
        level = logging.ERROR
    setup_logging(level)
    if g.values["version"]:
        sys.stdout.write(f"NVIDIA Container Toolkit CLI version {VERSION}\n")
        return 0
    rest = g.rest
    if not rest:
        sys.stdout.write(USAGE)
        return 0
    command = go_trim_space(rest[0])      # urfave/cli trims every argument, the command's too
    if command in ("cdi", "hook", "system"):  # CDI commands: their own package (docs/cdi.md)
        from cdi.cli import cmd_cdi, cmd_hook, cmd_system
        return {"cdi": cmd_cdi, "hook": cmd_hook, "system": cmd_system}[command](rest[1:], g.values["config"])
    if command == "config":
        from .toolkitconfig import cmd_config
        return cmd_config(rest[1:])
    commands: dict[str, Callable[[list[str]], int]]
    if command == "runtime":
        if len(rest) < 2 or go_trim_space(rest[1]) in ("-h", "--help", "help", "h"):
            from .helptext import RUNTIME_HELP
            sys.stdout.write(RUNTIME_HELP)
            return 0
        from . import runtime_cmd
        commands = {"configure": runtime_cmd.cmd_configure, "unconfigure": runtime_cmd.cmd_unconfigure}
        sub, args = go_trim_space(rest[1]), rest[2:]
    else:
        from . import installer
        commands = {"install": installer.cmd_install, "uninstall": installer.cmd_uninstall}
        sub, args = command, rest[1:]
    fn = commands.get(sub)
    if fn is None:
        raise errors.UsageError(f"No help topic for '{sub}'")
    try:
        return fn(args)
    except cli_flags.HelpRequested:
        sys.stdout.write(USAGE)
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not log.handlers:
        setup_logging(logging.INFO)
    try:
        return dispatch(argv)
    except errors.CtkError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:     # the reader of the output went away (``| head``): no bug, no line
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())   # nor at the final flush
        return 1
    except Exception as exc:  # a bug: still one line for users; --debug shows the traceback
        if log.isEnabledFor(logging.DEBUG):
            raise
        log.error("internal error (please report it; run with --debug for details): %s: %s",
                  type(exc).__name__, " ".join(str(exc).split()))
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
