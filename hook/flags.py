"""Command-line parsing with Go's ``flag`` package semantics (hook.md §1.2-§1.4)."""

from __future__ import annotations

from . import errors
from .values import Value, lazy_classes

USAGE = """Usage of nvidia-container-runtime-hook:
  -config string
    \tconfiguration file
  -debug
    \tenable debug output
  -version
    \tenable version output

Commands:
  prestart
        run the prestart hook
  poststart
        no-op
  poststop
        no-op
  explain [--bundle DIR | CONFIG_JSON] [--json] [--pid N]
        print what prestart would do for a bundle, and why
  hooks-json [--hook-path PATH]
        print the OCI hooks.d JSON that registers this hook
"""


def _define() -> tuple[type, ...]:
    class HelpRequested(Exception):
        """``-h``/``-help``: print the usage and exit 0.

        Raised by :func:`parse` without a text (the top-level usage, to stderr as Go's ``flag`` does), and
        by :func:`command_options` with the subcommand's help (to stdout).
        """

        def __init__(self, text: str = "") -> None:
            super().__init__(text)
            self.text = text

    return (HelpRequested,)


__getattr__ = lazy_classes(globals(), ("HelpRequested",), _define)  # created when first named


class Invocation(Value, frozen=True):
    """The parsed command line: flag values and the positional arguments (command first)."""

    debug: bool = False
    version: bool = False
    config: str = ""
    args: tuple[str, ...] = ()

    @property
    def command(self) -> str | None:
        return self.args[0] if self.args else None


def parse(argv: list[str]) -> Invocation:
    """Parse ``argv`` (without the program name).

    Raises :class:`HelpRequested`, or :class:`~hook.errors.UsageError` with Go's message.
    """
    values = {"debug": False, "version": False, "config": ""}
    i = 0
    n = len(argv)
    while i < n:
        s = argv[i]
        if len(s) < 2 or s[0] != "-":
            break
        minuses = 1
        if s[1] == "-":
            minuses = 2
            if len(s) == 2:
                i += 1
                break
        name = s[minuses:]
        if not name or name[0] in "-=":
            raise errors.UsageError(f"bad flag syntax: {s}")
        i += 1
        has_value = False
        value = ""
        eq = name.find("=", 1)
        if eq != -1:
            name, value, has_value = name[:eq], name[eq + 1:], True
        if name not in values:
            if name in ("help", "h"):
                raise __getattr__("HelpRequested")()
            from .gocompat import undefined_flag  # here: poststart and -version need no hook.gocompat

            raise errors.UsageError(undefined_flag(name))
        if name in ("debug", "version"):
            if has_value:
                from .gocompat import invalid_bool, parse_bool

                b = parse_bool(value)
                if b is None:
                    raise errors.UsageError(invalid_bool(name, value))
                values[name] = b
            else:
                values[name] = True
        else:
            if not has_value:
                if i < n:
                    value = argv[i]
                    i += 1
                else:
                    from .gocompat import flag_needs_argument

                    raise errors.UsageError(flag_needs_argument(name))
            values[name] = value
    return Invocation(debug=values["debug"], version=values["version"], config=values["config"],
                      args=tuple(argv[i:]))


def command_options(command: str, args: tuple[str, ...], usage: str, valued: tuple[str, ...] = (),
                    switches: tuple[str, ...] = (), help_text: str = "") -> tuple[dict[str, str | bool], list[str]]:
    """The options after one of our own subcommands: ``--name value`` / ``--name=value`` for
    ``valued``, ``--name`` for ``switches``; other words are positional (returned in order).

    Raises :class:`HelpRequested` for ``-h``/``-help``/``--help`` (with ``usage`` and ``help_text``),
    :class:`~hook.errors.UsageError` naming the command and its ``usage``.
    """
    options: dict[str, str | bool] = {}
    positional: list[str] = []
    rest = list(args)
    while rest:
        a = rest.pop(0)
        if a in ("-h", "-help", "--help"):
            raise __getattr__("HelpRequested")(
                f"Usage: nvidia-container-runtime-hook [-config FILE] {usage}\n{help_text}")
        name, eq, value = a.partition("=")
        if name in valued:
            if not eq:
                if not rest:
                    raise errors.UsageError(f"{command}: {name} needs a value")
                value = rest.pop(0)
            options[name] = value
        elif a in switches:
            options[a] = True
        elif a.startswith("-"):
            raise errors.UsageError(f"{command}: unknown option {a!r} (usage: {usage})")
        else:
            positional.append(a)
    return options, positional
