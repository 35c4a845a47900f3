"""Flag parsing with the reference's (urfave/cli, Go flag) conventions and wording."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .errors import UsageError


@dataclass(slots=True)
class Flag:
    names: tuple[str, ...]
    kind: str = "string"          # "string" | "bool"
    default: object = ""
    help: str = ""
    env: tuple[str, ...] = ()


@dataclass(slots=True)
class Parsed:
    values: dict = field(default_factory=dict)
    given: set = field(default_factory=set)
    rest: list = field(default_factory=list)


_TRUE = {"1", "t", "T", "true", "TRUE", "True"}
_FALSE = {"0", "f", "F", "false", "FALSE", "False"}


def parse_bool(name: str, v: str) -> bool:
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise UsageError(f'invalid boolean value "{v}" for -{name}: parse error')


def parse_flags(flags: list[Flag], args: list[str], stop_at_positional: bool = False) -> Parsed:
    """Parse ``args``; raises :class:`UsageError` with the reference's wording."""
    by_name = {n: f for f in flags for n in f.names}
    out = Parsed({f.names[0]: f.default for f in flags})
    for f in flags:
        for env in f.env:
            if env in os.environ:
                raw = os.environ[env]
                out.values[f.names[0]] = parse_bool(env, raw) if f.kind == "bool" else raw
                out.given.add(f.names[0])
                break
    i = 0
    while i < len(args):
        a = args[i]
        i += 1
        if a == "--":
            out.rest.extend(args[i:])
            break
        if not a.startswith("-") or a == "-":
            if stop_at_positional:
                out.rest.extend(args[i - 1:])
                break
            out.rest.append(a)
            continue
        body = a[2:] if a.startswith("--") else a[1:]
        name, eq, value = body.partition("=")
        f = by_name.get(name)
        if f is None:
            if name in ("h", "help"):
                raise _Help()
            raise UsageError(f"flag provided but not defined: -{name}")
        key = f.names[0]
        if f.kind == "bool":
            out.values[key] = parse_bool(name, value) if eq else True
        else:
            if not eq:
                if i >= len(args):
                    raise UsageError(f"flag needs an argument: -{name}")
                value = args[i]
                i += 1
            out.values[key] = value
        out.given.add(key)
    return out


class _Help(Exception):
    """-h / --help was given."""


def usage(title: str, flags: list[Flag]) -> str:
    """The help text of a command: ``title`` and one line per flag."""
    lines = [title, "", "OPTIONS:"]
    for f in flags:
        names = ", ".join(("--" if len(n) > 1 else "-") + n for n in f.names)
        lines.append(f"   {names:44} {f.help}" + (f" (default: {f.default})" if f.default not in ("", False) else ""))
    return "\n".join(lines) + "\n"


def parse_command(flags: list[Flag], args: list[str], help_text: str, help_on_error: bool = False) -> Parsed | None:
    """Parse a command's flags: None after printing ``help_text`` for -h/--help.

    Raises :class:`UsageError` for bad flags (after printing the help when ``help_on_error``) and
    for positional arguments, which no command takes.
    """
    import sys

    try:
        p = parse_flags(flags, args)
    except _Help:
        sys.stdout.write(help_text)
        return None
    except UsageError:
        if help_on_error:
            sys.stdout.write(help_text)
        raise
    if p.rest:
        raise UsageError(f"unexpected arguments: {' '.join(p.rest)}")
    return p
