"""What the shim reads from runc's command line (runtime.md §3).

The shim has no option parser: it scans ``argv`` with a few ad-hoc rules and forwards it
unchanged.  :func:`scan` is pure and imports nothing.
"""

from __future__ import annotations

from . import errors


class Invocation:
    """The facts the shim takes from argv (argv[0] included in the scan)."""

    __slots__ = ("argv", "version", "create", "bundle_flags", "log_path", "log_json", "debug")

    def __init__(self, argv, version, create, bundle_flags, log_path, log_json, debug) -> None:
        self.argv = argv
        self.version = version
        self.create = create
        self.bundle_flags = bundle_flags
        self.log_path = log_path
        self.log_json = log_json
        self.debug = debug

    def __repr__(self) -> str:
        return "Invocation(" + ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__slots__) + ")"

    def bundle(self) -> str:
        """The bundle directory (§3.3): the last bundle flag's value; ``""`` means the cwd.

        Raises :class:`ConstructError` for a bundle flag without a value.
        """
        value = ""
        for v in self.bundle_flags:
            if v is None:
                raise errors.ConstructError("error constructing OCI specification: error getting bundle directory: "
                                            "error getting bundle dir from args: bundle option requires an argument")
            value = v
        return value


def flag_name(arg: str) -> str | None:
    """The name of a flag-looking element (§3): the text before ``=`` with every leading dash removed."""
    if not arg.startswith("-"):
        return None
    return arg.partition("=")[0].lstrip("-")


def scan(argv: list[str]) -> Invocation:
    """Scan ``argv`` (argv[0] included) for the version flag, ``create``, the bundle and the logger
    flags (§3.1-§3.4)."""
    version = create = False
    bundles: list[str | None] = []
    n = len(argv)
    i = 0
    while i < n:
        arg = argv[i]
        name = flag_name(arg)
        if name == "version":
            version = True
        elif name in ("b", "bundle"):
            if "=" in arg:
                bundles.append(arg.partition("=")[2])
            elif i + 1 < n:
                bundles.append(argv[i + 1])
                version = version or flag_name(argv[i + 1]) == "version"
                i += 1
            else:
                bundles.append(None)
        elif arg == "create":
            create = True
        i += 1
    log_path, log_json, debug = _logger_flags(argv)
    return Invocation(tuple(argv), version, create, tuple(bundles), log_path, log_json, debug)


def _logger_flags(argv: list[str]) -> tuple[str, bool, bool]:
    """§3.4: ``--log``, ``--log-format``, ``--debug`` (stopping after four distinct names)."""
    found: set[str] = set()
    values = {"log": "", "log-format": ""}
    debug = False
    i, n = 0, len(argv)
    while i < n and len(found) < 4:
        arg = argv[i]
        i += 1
        name = flag_name(arg)
        if name is None:
            continue
        if name in ("version", "debug"):
            debug = debug or name == "debug"
            found.add(name)
            continue
        if name not in values:
            continue
        if "=" in arg:
            value = arg.partition("=")[2]
        elif i < n:
            value = argv[i]
            i += 1
        else:
            continue
        values[name] = value
        found.add(name)
    return values["log"], values["log-format"] == "json", debug
