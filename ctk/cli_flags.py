"""Flag parsing with the reference's (urfave/cli v3) conventions and wording.

As the reference does, every argument is stripped of surrounding white space (Go's
``strings.TrimSpace``) before it is parsed, so ``--runtime="docker "`` is ``--runtime=docker``
and ``--set-as-default=true<TAB>`` is ``--set-as-default=true``; a value given as the next
argument (``--config " x"``) is taken as it is.  The global flags (``--debug``, ``--quiet``,
``--config``) are also accepted after a command, unless the command has a flag of that name.

A ``list`` flag is urfave/cli's ``StringSliceFlag``: it may be repeated, each value is split at
commas and every item is stripped of white space (``--device-id "0, 1" --device-id 2`` is
``("0", "1", "2")``; empty items are kept); its environment variable is split the same way, and the
command line replaces the environment's list rather than adding to it.

The CDI hooks (``cdi.hook``) parse their flags here too: this module imports only ``hook.oslite``,
``hook.gocompat``, ``hook.values`` and ``ctk.errors`` (no ``dataclasses``, no ``logging``), so
that every container's hooks do not pay for a flag parser.
"""

from __future__ import annotations

from hook import oslite
from hook.gocompat import flag_needs_argument, invalid_bool, trim as go_trim_space, undefined_flag
from hook.gocompat import parse_bool as _go_parse_bool
from hook.values import Factory, Value, lazy_exception

from . import errors


class Flag(Value, frozen=True):
    """One flag: its names (the first is the key of :attr:`Parsed.values`), kind (``string``,
    ``bool`` or ``list``), default (a tuple for ``list``), help and environment variables."""

    names: tuple[str, ...]
    kind: str = "string"
    default: object = ""
    help: str = ""
    env: tuple[str, ...] = ()
    shown_default: str = ""       # help text for a default computed elsewhere


class Parsed(Value):
    """The parse: values by flag key, the keys given (flag or environment), positional arguments."""

    values: dict = Factory(dict)
    given: set = Factory(set)
    rest: list = Factory(list)


GLOBAL_FLAGS = [
    Flag(("debug", "d"), "bool", False, "enable debug-level logging", ("NVIDIA_CTK_DEBUG",)),
    Flag(("quiet", "q"), "bool", False, "suppress all output except for errors; overrides --debug", ("NVIDIA_CTK_QUIET",)),
    Flag(("config",), "string", "", "path to the toolkit config file", ("NVIDIA_CTK_CONFIG",)),
]
"""Flags of ``nvidia-ctk`` itself, accepted before and after the command."""

def parse_bool(name: str, v: str) -> bool:
    """``strconv.ParseBool`` of flag (or variable) ``name``; raises :class:`UsageError`."""
    b = _go_parse_bool(v)
    if b is None:
        raise errors.UsageError(invalid_bool(name, v))
    return b


def split_slice_flag(value: str) -> tuple[str, ...]:
    """A ``list`` flag's value (or environment variable) as urfave/cli splits it: at every comma,
    each item stripped of white space (Go's ``strings.TrimSpace``), empty items kept (unlike
    :func:`hook.gocompat.split_list`, the hook's, which drops them)."""
    return tuple(go_trim_space(item) for item in value.split(","))


def _env_value(f: Flag, env: str, raw: str):
    if f.kind == "bool":
        return parse_bool(env, raw)
    return split_slice_flag(raw) if f.kind == "list" else raw


def parse_flags(flags: list[Flag], args: list[str], stop_at_positional: bool = False,
                persistent: list[Flag] = ()) -> Parsed:
    """Parse ``args``; raises :class:`UsageError` with the reference's wording.

    ``persistent`` flags (the global ones) are accepted too, except where one of their names
    is also a name of ``flags`` (the command's own flag wins, as in the reference).
    """
    by_name = {n: f for f in flags for n in f.names}
    extra = [f for f in persistent if not any(n in by_name for n in f.names)]
    for f in extra:
        by_name.update((n, f) for n in f.names)
    out = Parsed({f.names[0]: f.default for f in (*flags, *extra)})
    for f in (*flags, *extra):
        for env in f.env:
            raw = oslite.getenv(env)
            if raw is not None:
                if raw or f.kind != "list":  # urfave/cli: an empty variable leaves a list's default
                    out.values[f.names[0]] = _env_value(f, env, raw)
                    out.given.add(f.names[0])
                break
    from_args: set[str] = set()   # list flags given on the command line (they replace the env's)
    i = 0
    while i < len(args):
        raw = args[i]
        a = go_trim_space(raw)
        i += 1
        if not a:
            if stop_at_positional:
                out.rest.extend(args[i - 1:])
                break
            out.rest.append(raw)
            continue
        if a == "--":
            out.rest.extend(args[i:])
            break
        if not a.startswith("-") or a == "-":
            if stop_at_positional:
                out.rest.extend([a, *args[i:]])
                break
            out.rest.append(a)
            continue
        body = a[2:] if a.startswith("--") else a[1:]
        name, eq, value = body.partition("=")
        f = by_name.get(name)
        if f is None:
            if name in ("h", "help"):
                raise __getattr__("HelpRequested")()
            raise errors.UsageError(undefined_flag(name))
        key = f.names[0]
        if f.kind == "bool":
            out.values[key] = parse_bool(name, value) if value else True
        else:
            if not eq:
                if i >= len(args):
                    raise errors.UsageError(flag_needs_argument(name))
                value = args[i]
                i += 1
            if f.kind == "list":
                items = split_slice_flag(value)
                out.values[key] = (*out.values[key], *items) if key in from_args else items
                from_args.add(key)
            else:
                out.values[key] = value
        out.given.add(key)
    return out


__getattr__ = lazy_exception(globals(), "HelpRequested", Exception,
                             "-h / --help was given.")


def _default_text(f: Flag) -> str:
    if f.shown_default:
        return f" (default: {f.shown_default})"
    if f.kind == "bool":
        return " (default: true)" if f.default is True else ""
    if f.kind == "list":
        return " (default: " + ", ".join(f'"{d}"' for d in f.default) + ")" if f.default else ""
    return f' (default: "{f.default}")' if isinstance(f.default, str) and f.default else ""


def _options(flags: list[Flag]) -> list[str]:
    rows = []
    for f in flags:
        arg = "" if f.kind == "bool" else " string"
        names = ", ".join(("--" if len(n) > 1 else "-") + n + arg for n in f.names)
        if f.kind == "list":  # repeatable, marked as urfave/cli marks it (first name only)
            names += f" [ --{f.names[0]}{arg} ]"
        env = (" [" + ", ".join("$" + e for e in f.env) + "]") if f.env else ""
        rows.append((names, f.help + _default_text(f) + env))
    width = max(len(n) for n, _ in rows)
    return [f"   {n:{width}}  {h}" for n, h in rows]


def usage(title: str, flags: list[Flag], usage_line: str = "") -> str:
    """The help text of a command in the reference's layout: NAME, USAGE, OPTIONS (every
    default shown), GLOBAL OPTIONS."""
    lines = [title, ""]
    if usage_line:
        lines += ["USAGE:", "   " + usage_line, ""]
    lines += ["OPTIONS:", *_options([*flags, Flag(("help", "h"), "bool", False, "show help")]), ""]
    lines += ["GLOBAL OPTIONS:", *_options(GLOBAL_FLAGS)]
    return "\n".join(lines) + "\n"


def apply_global_flags(values: dict) -> None:
    """``--debug``/``--quiet`` given after the command: the log level they select."""
    if not (values.get("quiet") or values.get("debug")):
        return
    import logging

    from .common import log
    if values.get("quiet"):
        log.setLevel(logging.ERROR)
    elif values.get("debug"):
        log.setLevel(logging.DEBUG)


def parse_command(flags: list[Flag], args: list[str], help_text: str, help_on_error: bool = False,
                  error_help_text: str | None = None) -> Parsed | None:
    """Parse a command's flags (and the global ones): None after printing ``help_text`` for
    -h/--help.

    Raises :class:`UsageError` for bad flags (after printing ``error_help_text`` or the help
    when ``help_on_error``) and for positional arguments, which no command takes.
    """
    import sys

    try:
        p = parse_flags(flags, args, persistent=GLOBAL_FLAGS)
    except __getattr__("HelpRequested"):
        sys.stdout.write(help_text)
        return None
    except errors.UsageError:
        if help_on_error:
            sys.stdout.write(help_text if error_help_text is None else error_help_text)
        raise
    if p.rest:
        raise errors.UsageError(f"unexpected arguments: {' '.join(p.rest)}")
    apply_global_flags(p.values)
    return p
