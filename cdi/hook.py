"""``nvidia-cdi-hook`` (also ``nvidia-ctk hook``): the createContainer hooks named in CDI specs
(spec section 5).  Start-up matters (every CDI container runs these): this module imports only
``sys`` and :mod:`hook.oslite` at import; a run then imports :mod:`cdi.errors`, the subcommand's module and the
flag parser, :mod:`ctk.cli_flags` (with :mod:`hook.gocompat`, :mod:`hook.values` and
:mod:`ctk.errors`), none of them YAML or cffi.

Usage: ``nvidia-cdi-hook [--debug] [--quiet] [--config F] SUBCOMMAND [flags]``.  An unknown or
missing subcommand warns and exits 0 (forward compatibility with newer specs).
"""

from __future__ import annotations

import sys

from hook import oslite

__all__ = ["main", "run", "HOOKS"]

HOOKS = {
    "update-ldcache": "cdi.hooks.ldcache",
    "create-symlinks": "cdi.hooks.symlinks",
    "enable-cuda-compat": "cdi.hooks.compat",
    "disable-device-node-modification": "cdi.hooks.devnode",
    "chmod": "cdi.hooks.chmod",
    "update-application-profile": "cdi.hooks.profile",
}


class Log:
    """logrus text lines on stderr (the hooks log little: warnings and the final error)."""

    def __init__(self, quiet: bool = False, debug: bool = False) -> None:
        self.quiet, self.debug_on = quiet, debug

    def _emit(self, level: str, msg: str) -> None:
        from hook.log import logrus_text
        sys.stderr.write(logrus_text(level, msg) + "\n")

    def debug(self, msg: str) -> None:
        if self.debug_on and not self.quiet:
            self._emit("debug", msg)

    def info(self, msg: str) -> None:
        if not self.quiet:
            self._emit("info", msg)

    def warning(self, msg: str) -> None:
        if not self.quiet:
            self._emit("warning", msg)

    def error(self, msg: str) -> None:
        self._emit("error", msg)


def parse_flags(args: list[str], strings: tuple[str, ...], lists: tuple[str, ...] = ()) -> tuple[dict, list[str]]:
    """A subcommand's flags, parsed by :mod:`ctk.cli_flags` (urfave/cli's rules, as the reference's
    hooks): ``strings`` are given only when on the command line (absent from the result
    otherwise), ``lists`` (repeatable, comma-separated) are lists, ``[]`` when absent.

    Raises HookError in Go flag's wording; ``-h``/``--help`` raises :class:`ctk.cli_flags.HelpRequested`
    (its ``flags``: the subcommand's, for the help text).

    (The hooks once had a parser of their own because ``ctk.cli_flags`` imported ``dataclasses``
    and ``logging``; it no longer does, and costs no measurable start-up in the frozen binary:
    docs/performance.md.)"""
    from ctk import cli_flags
    from ctk import errors as ctk_errors

    from . import errors

    flags = [*(cli_flags.Flag((n,)) for n in strings), *(cli_flags.Flag((n,), "list", ()) for n in lists)]
    try:
        p = cli_flags.parse_flags(flags, args)
    except cli_flags.HelpRequested as exc:
        exc.flags = flags  # run() prints their help
        raise
    except ctk_errors.UsageError as exc:
        raise errors.HookError(str(exc)) from None
    values = {n: p.values[n] for n in strings if n in p.given}
    values.update((n, list(p.values[n])) for n in lists)
    return values, p.rest


def read_root(flags: dict) -> str:
    """The container root from the state on stdin (or ``--container-spec FILE``)."""
    from .rootfs import container_root
    src = flags.get("container-spec", "")
    if not src or src == "-":
        return container_root(sys.stdin.buffer)
    from . import errors
    try:
        f = open(src, "rb")
    except OSError as exc:
        from hook.gocompat import errno_text
        raise errors.HookError(f"failed to load container state: failed to open file: open {src}: "
                               f"{errno_text(exc.errno)}") from None
    with f:
        return container_root(f, src)


def usage() -> str:
    """``nvidia-cdi-hook --help``: the subcommands and the global options (``ctk.cli_flags``' layout)."""
    from ctk import cli_flags

    commands = "\n".join(f"   {name}" for name in HOOKS)
    return cli_flags.usage(f"NAME:\n   nvidia-cdi-hook - the createContainer hooks that CDI specs name\n\n"
                           f"COMMANDS:\n{commands}", [], "nvidia-cdi-hook [global options] command [command options]")


def run(argv: list[str]) -> int:
    """Run ``argv`` (after the program name); the exit status."""
    quiet = oslite.getenv("NVIDIA_CTK_QUIET", "").lower() in ("1", "true", "t")
    debug = oslite.getenv("NVIDIA_CTK_DEBUG", "").lower() in ("1", "true", "t")
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        name, eq, value = argv[i].lstrip("-").partition("=")
        if name in ("debug", "d"):
            debug = value.lower() not in ("false", "0", "f") if eq else True
        elif name in ("quiet", "q"):
            quiet = value.lower() not in ("false", "0", "f") if eq else True
        elif name == "config" and not eq:
            i += 1
        elif name in ("h", "help"):
            sys.stdout.write(usage())
            return 0
        i += 1
    log = Log(quiet, debug)
    if i >= len(argv):
        log.warning("No CDI hook specified")
        return 0
    name, args = argv[i], argv[i + 1:]
    if name == "noop":
        return 0
    modname = HOOKS.get(name)
    if modname is None:
        log.warning(f"Unsupported CDI hook: {name}")
        return 0
    from ctk import cli_flags

    from . import errors

    try:
        mod = __import__(modname, fromlist=["run"])
        return mod.run(args, log)
    except cli_flags.HelpRequested as exc:  # from parse_flags, with the subcommand's flags
        sys.stdout.write(cli_flags.usage(f"NAME:\n   nvidia-cdi-hook {name}", exc.flags))
        return 0
    except errors.CdiError as exc:
        log.error(str(exc))
        return 1
    except KeyboardInterrupt:
        return 130


def main() -> int:
    return run(sys.argv[1:])


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
