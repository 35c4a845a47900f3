"""``nvidia-ctk``: runtime configure / unconfigure and the installer commands.

Flags follow the reference (urfave/cli): ``--flag=value``, ``--flag value``, ``-flag``;
booleans take an optional ``=true|false``.  Every user error is one log line on standard
error and exit status 1; there is never a traceback for bad input.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable

from hook.log import logrus_text

from . import configure as cfgmod
from . import sources, state
from .common import DEFAULT_RUNTIME_NAME, DEFAULT_RUNTIME_PATH, RuntimeOptions, log
from .errors import CtkError, UsageError
from .plan import unified_diff
from .cli_flags import GLOBAL_FLAGS as _PERSISTENT_FLAGS
from .cli_flags import Flag, _Help, go_trim_space, parse_command, parse_flags, usage

VERSION = "1.20.0"


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


# --------------------------------------------------------------------------- flag parsing

# --------------------------------------------------------------------------- runtime configure

CONFIGURE_FLAGS = [
    Flag(("dry-run",), "bool", False, "update the runtime configuration as required but don't write changes to disk"),
    Flag(("diff",), "bool", False, "print a unified diff of the changes instead of writing them"),
    Flag(("runtime",), "string", "docker", "the target runtime engine; one of [containerd, crio, docker]"),
    Flag(("config",), "string", "", "path to the config file for the target runtime"),
    Flag(("drop-in-config",), "string", "", "path to the drop-in config file ('' edits the config file in place)"),
    Flag(("executable-path",), "string", "", "the path to the runtime executable (command config source)"),
    Flag(("config-mode",), "string", "", "the config mode for runtimes that support multiple configuration mechanisms"),
    Flag(("config-source",), "string", "file", "where the current config is read from: file, command, effective, or a comma-separated list (first that loads)"),
    Flag(("oci-hook-path",), "string", "", "the path to the OCI runtime hook to create if --config-mode=oci-hook is specified"),
    Flag(("nvidia-runtime-name",), "string", DEFAULT_RUNTIME_NAME, "specify the name of the NVIDIA runtime that will be added"),
    Flag(("nvidia-runtime-path", "runtime-path"), "string", DEFAULT_RUNTIME_PATH, "specify the path to the NVIDIA runtime executable"),
    Flag(("nvidia-runtime-hook-path",), "string", "/usr/bin/nvidia-container-runtime-hook", "the path to the NVIDIA Container Runtime hook executable"),
    Flag(("nvidia-set-as-default", "set-as-default"), "bool", False, "set the NVIDIA runtime as the default runtime"),
    Flag(("cdi.enabled", "cdi.enable", "enable-cdi"), "bool", False, "enable CDI in the configured runtime"),
    Flag(("state-dir",), "string", "", f"where configure records what it changed (default ${state.STATE_DIR_ENV} or {state.DEFAULT_STATE_DIR})"),
]

UNCONFIGURE_FLAGS = [
    Flag(("dry-run",), "bool", False, "print the resulting files instead of writing them"),
    Flag(("diff",), "bool", False, "print a unified diff of the changes instead of writing them"),
    Flag(("runtime",), "string", "docker", "the target runtime engine; one of [containerd, crio, docker]"),
    Flag(("config",), "string", "", "path to the config file for the target runtime",
         shown_default="/etc/docker/daemon.json, /etc/containerd/config.toml or /etc/crio/crio.conf"),
    Flag(("drop-in-config",), "string", "", "path to the drop-in config file",
         shown_default="conf.d/99-nvidia.toml (containerd) or crio.conf.d/99-nvidia.toml (crio) next to --config"),
    Flag(("nvidia-runtime-name",), "string", DEFAULT_RUNTIME_NAME, "name of the NVIDIA runtime to remove (when no record exists)"),
    Flag(("config-mode",), "string", "", "config-file or oci-hook", shown_default='"config-file"'),
    Flag(("oci-hook-path",), "string", "", "the OCI hook file to remove with --config-mode=oci-hook"),
    Flag(("state-dir",), "string", "", "where configure recorded what it changed",
         shown_default=f"${state.STATE_DIR_ENV}, else {state.DEFAULT_STATE_DIR} for root"),
]


def build_source(runtime: str, spec: str, config: str, executable: str, host_root: str = "",
                 drop_in: str = "", command_reads_config: bool = False) -> object:
    """The source for ``--config-source`` (single value or comma-separated list).

    ``command_reads_config``: the containerd command dumps ``config`` (``--config``) rather
    than the daemon's default file (the installer; ``runtime configure`` runs the reference's
    exact command, which the golden corpus records).
    Raises :class:`UsageError` for an unknown kind (reference wording).
    """
    items = [s.strip() for s in spec.split(",")] if spec else ["file"]
    built = []
    for item in items:
        kind, _, arg = item.partition("=")
        kind, arg = kind.strip(), arg.strip()
        if kind == "file":
            built.append(sources.FileSource(arg or config))
        elif kind == "command":
            if runtime == "containerd":
                built.append(sources.containerd_command(executable, host_root,
                                                        config if command_reads_config else ""))
            else:
                built.append(sources.crio_command(executable, host_root))
        elif kind == "effective":
            if runtime == "containerd":
                built.append(sources.ContainerdImportsSource(arg or config, exclude=(drop_in,) if drop_in else ()))
            else:
                d = os.path.dirname(drop_in) if drop_in else os.path.join(os.path.dirname(arg or config), "crio.conf.d")
                built.append(sources.CrioDropInSource(arg or config, d, exclude=(drop_in,) if drop_in else ()))
        else:
            raise UsageError(f"unrecognized Config Source: {item}")
    return built[0] if len(built) == 1 else sources.FirstOf(tuple(built))


def _write_hook(path: str, hook_path: str) -> int:
    from hook.hooksd import HooksdError, render
    try:
        text = render(hook_path)
    except HooksdError as exc:
        raise UsageError(str(exc)) from None
    if not path:
        sys.stdout.write(text)
        return 0
    from . import fileio
    fileio.write_atomic(path, text.encode())
    log.info("Wrote OCI hook to %s", path)
    return 0


def cmd_configure(args: list[str]) -> int:
    from .helptext import CONFIGURE_FULL_HELP, CONFIGURE_HELP
    p = parse_command(CONFIGURE_FLAGS, args, CONFIGURE_FULL_HELP, help_on_error=True,
                      error_help_text=CONFIGURE_HELP)
    if p is None:
        return 0
    v = p.values
    runtime = v["runtime"]
    mode = v["config-mode"]
    if mode in ("oci-hook", "hook"):
        log.warning('The "%s" config-mode is deprecated', mode)
        if not v["nvidia-runtime-hook-path"].startswith("/"):
            raise UsageError(f'the NVIDIA runtime hook path "{v["nvidia-runtime-hook-path"]}" is not an absolute path')
        return _write_hook(v["oci-hook-path"], v["nvidia-runtime-hook-path"])
    if mode not in ("", "config-file", "config"):
        log.warning('Ignoring unsupported config mode for %s: "%s"', runtime, mode)
    if runtime not in cfgmod.RUNTIMES:
        raise UsageError(f"unrecognized runtime '{runtime}'")
    name = v["nvidia-runtime-name"]
    if not name:
        raise UsageError("the --nvidia-runtime-name flag must not be empty")
    path = v["nvidia-runtime-path"]
    if runtime in ("containerd", "crio"):
        if path == DEFAULT_RUNTIME_PATH:
            path = "/usr/bin/" + DEFAULT_RUNTIME_PATH
        if not path.startswith("/"):
            raise UsageError(f'the NVIDIA runtime path "{path}" is not an absolute path')
    enable_cdi = v["cdi.enabled"]
    if runtime == "crio" and enable_cdi:
        log.warning("Ignoring cdi.enabled flag for %s", runtime)
        enable_cdi = False
    executable = v["executable-path"]
    if runtime == "docker" and executable:
        log.warning('Ignoring executable-path="%s" flag for %s', executable, runtime)
        executable = ""
    source_spec = v["config-source"]
    if runtime == "docker":
        for item in source_spec.split(","):
            if item.strip().partition("=")[0].strip() not in ("file", "command", "effective"):
                raise UsageError(f"unrecognized Config Source: {item.strip()}")
        if source_spec != "file":
            log.warning("A %s Config Source is not supported for %s; using file", source_spec, runtime)
    config = v["config"] or cfgmod.DEFAULT_CONFIG[runtime]
    drop_in = v["drop-in-config"] if "drop-in-config" in p.given else cfgmod.default_drop_in(runtime, config)
    if runtime == "docker" and drop_in:
        raise UsageError("runtime docker does not support drop-in configs")
    if drop_in and not drop_in.startswith("/"):
        raise UsageError(f'the drop-in-config path "{drop_in}" is not an absolute path')
    from .docker import DaemonJsonSource
    source = (DaemonJsonSource(config) if runtime == "docker"
              else build_source(runtime, source_spec, config, executable, drop_in=drop_in))
    opts = RuntimeOptions.single(name, path, v["nvidia-set-as-default"], enable_cdi)
    req = cfgmod.ConfigureRequest(runtime, config, drop_in, source, opts)
    if v["diff"] or v["dry-run"]:
        prep = cfgmod.prepare_configure(req)
        if v["diff"]:
            cfgmod.check_problem(prep)
            sys.stdout.write(unified_diff(prep.plan))
            return 0
        cfgmod.check_problem(prep, dry_run=True)
        for label, text in prep.plan.documents:
            if label:
                log.info("%s", label)
            sys.stdout.write(text + "\n")
            sys.stdout.flush()
        return 0
    sdir = state.state_dir(v["state-dir"])
    with cfgmod.locked(sdir, config, drop_in):
        changed = cfgmod.commit(cfgmod.prepare_configure(req), sdir)
    if not changed:
        log.info("%s is already configured; nothing changed", runtime)
        return 0
    log.info("It is recommended that %s daemon be restarted.", runtime)
    return 0


def cmd_unconfigure(args: list[str]) -> int:
    p = parse_command(UNCONFIGURE_FLAGS, args, usage(
        "NAME:\n   NVIDIA Container Toolkit CLI runtime unconfigure - Remove what configure added",
        UNCONFIGURE_FLAGS, "NVIDIA Container Toolkit CLI runtime unconfigure [command options]"))
    if p is None:
        return 0
    v = p.values
    if v["config-mode"] in ("oci-hook", "hook"):
        from . import fileio
        if not v["oci-hook-path"]:
            raise UsageError("--oci-hook-path is required with --config-mode=oci-hook")
        if not (v["dry-run"] or v["diff"]):
            fileio.remove(v["oci-hook-path"])
        return 0
    runtime = v["runtime"]
    if runtime not in cfgmod.RUNTIMES:
        raise UsageError(f"unrecognized runtime '{runtime}'")
    config = v["config"] or cfgmod.DEFAULT_CONFIG[runtime]
    drop_in = v["drop-in-config"] if "drop-in-config" in p.given else cfgmod.default_drop_in(runtime, config)
    if drop_in and not drop_in.startswith("/"):
        raise UsageError(f'the drop-in-config path "{drop_in}" is not an absolute path')
    if not v["nvidia-runtime-name"]:
        raise UsageError("the --nvidia-runtime-name flag must not be empty")
    sdir = state.state_dir(v["state-dir"])
    if v["diff"] or v["dry-run"]:
        prep = cfgmod.prepare_unconfigure(runtime, config, drop_in, [v["nvidia-runtime-name"]], sdir)
        if v["diff"]:
            sys.stdout.write(unified_diff(prep.plan))
            return 0
        for c in prep.plan.changes:
            sys.stderr.write(f"{c.path}:\n")
            sys.stdout.write((c.after or b"").decode() + ("\n" if c.after and not c.after.endswith(b"\n") else ""))
        return 0
    with cfgmod.locked(sdir, config, drop_in):
        prep = cfgmod.prepare_unconfigure(runtime, config, drop_in, [v["nvidia-runtime-name"]], sdir)
        changed = cfgmod.commit_unconfigure(prep, sdir)
    if changed:
        log.info("It is recommended that %s daemon be restarted.", runtime)
    else:
        log.info("Nothing to remove for %s", runtime)
    return 0


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
    except _Help:
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
    if rest[0] in ("cdi", "hook", "system"):  # CDI commands: their own package (docs/cdi.md)
        from cdi.cli import cmd_cdi, cmd_hook, cmd_system
        return {"cdi": cmd_cdi, "hook": cmd_hook, "system": cmd_system}[rest[0]](rest[1:], g.values["config"])
    commands: dict[str, Callable[[list[str]], int]] = {}
    if rest[0] == "config":
        from .toolkitconfig import cmd_config
        return cmd_config(rest[1:])
    if rest[0] == "runtime":
        if len(rest) < 2 or go_trim_space(rest[1]) in ("-h", "--help", "help", "h"):
            from .helptext import RUNTIME_HELP
            sys.stdout.write(RUNTIME_HELP)
            return 0
        commands = {"configure": cmd_configure, "unconfigure": cmd_unconfigure}
        sub, args = go_trim_space(rest[1]), rest[2:]
    else:
        from . import installer
        commands = {"install": installer.cmd_install, "uninstall": installer.cmd_uninstall}
        sub, args = go_trim_space(rest[0]), rest[1:]
    fn = commands.get(sub)
    if fn is None:
        raise UsageError(f"No help topic for '{sub}'")
    try:
        return fn(args)
    except _Help:
        sys.stdout.write(USAGE)
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not log.handlers:
        setup_logging(logging.INFO)
    try:
        return dispatch(argv)
    except CtkError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # a bug: still one line for users; --debug shows the traceback
        if log.isEnabledFor(logging.DEBUG):
            raise
        log.error("internal error (please report it; run with --debug for details): %s: %s",
                  type(exc).__name__, " ".join(str(exc).split()))
        return 1
    except BrokenPipeError:
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
