"""The :class:`Engine` interface: what ``nvidia-ctk`` needs to know about one container engine.

An engine owns its defaults (config file, drop-in, socket, service, restart mode), its config
sources (file, command, effective), the configure and unconfigure plans for its files, the
default runtime and the low-level runtimes a configuration names, and the flag values that
make no sense for it.  Callers (``runtime configure``, ``install``) never ask which engine
they hold: they call these methods.  Engines only read (:func:`read_config`) and compute;
writing is :mod:`ctk.configure`'s job.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..common import RuntimeOptions
from .. import errors

if TYPE_CHECKING:  # pragma: no cover
    from ..plan import Plan
    from ..sources import Snapshot, Source
    from ..state import Record


@dataclass(slots=True)
class ConfigureRequest:
    """What ``configure`` was asked to do (``runtime`` names the :class:`Engine`)."""

    runtime: str
    config: str
    drop_in: str
    source: "Source"
    opts: RuntimeOptions
    use_legacy: bool = False
    drop_in_host_path: str = ""


@dataclass(slots=True)
class ConfigurePlan:
    """An engine's answer to a :class:`ConfigureRequest`: the files to write and what the
    state record needs to undo them.

    ``problem``: the config holds a non-table where a handler goes (the plan must not be
    written, nor shown by a dry run).
    """

    plan: "Plan"
    snapshot: "Snapshot"
    previous_default: str = ""
    cdi_added: bool = False
    imports_added: str | None = None
    version: int | None = None
    problem: str | None = None


def read_config(path: str, runtime: str) -> bytes | None:
    """The bytes of ``path`` (None: missing or ``""``); :class:`ConfigLoadError` otherwise."""
    from .. import fileio
    try:
        return fileio.read_optional(path) if path else None
    except errors.WriteError as exc:
        raise errors.ConfigLoadError(f"unable to load config for runtime {runtime}: {exc}") from None


def top_file(path: str, runtime: str):
    """The user's TOML config (:class:`ctk.tomledit.TomlFile`) opened for a style-preserving
    edit; :class:`ConfigLoadError` with the reference's wording."""
    from ..tomledit import TomlFile
    raw = read_config(path, runtime)
    try:
        return TomlFile(path, raw)
    except errors.ConfigLoadError as exc:
        raise errors.ConfigLoadError(f"unable to load config for runtime {runtime}: failed to load top-level "
                                     f"config {path}: {exc}") from None


class Engine:
    """One container engine.  Subclasses set the attributes and implement the abstract
    methods; the defaults here are what most engines do."""

    name: str = ""
    default_config: str = ""
    default_drop_in: str = ""            # "": the engine has no drop-in files
    default_socket: str = ""
    service: str = ""                    # systemd unit / what messages call the daemon
    default_restart: str = "signal"      # signal | systemd | none
    signal_restart: bool = True          # False: --restart-mode=signal is refused
    config_options: tuple[str, ...] = ("--config", "-c")   # daemon flags naming its config file
    config_role: str = "top-level"       # the role of the main config file in a plan
    fallback_runtime: str = "runc"       # what the wrapper runs when nothing was detected
    has_oci_hook_mode: bool = False      # installer --config-mode=hook (hooks.d JSON)
    absolute_runtime_path: bool = True   # the NVIDIA runtime path must be absolute

    # ------------------------------------------------------------------ defaults and flags

    def drop_in_for(self, config: str) -> str:
        """The drop-in path when none is given: the engine's drop-in directory next to
        ``config``, so a private ``--config`` never leads to a write into the host's /etc."""
        default = self.default_drop_in
        if not default or not config:
            return default
        return os.path.join(os.path.dirname(os.path.abspath(config)),
                            os.path.basename(os.path.dirname(default)), os.path.basename(default))

    def runtime_path(self, path: str, default: str) -> str:
        """``--nvidia-runtime-path`` as written into the config: the bare default becomes
        ``/usr/bin/<default>``; :class:`UsageError` for a relative path (engines that exec
        it by path)."""
        if not self.absolute_runtime_path:
            return path
        if path == default:
            path = "/usr/bin/" + default
        if not path.startswith("/"):
            raise errors.UsageError(f'the NVIDIA runtime path "{path}" is not an absolute path')
        return path

    def cdi_flag(self, enabled: bool) -> bool:
        """``--cdi.enabled`` as this engine can honour it."""
        return enabled

    def executable_flag(self, executable: str) -> str:
        """``--executable-path`` as this engine can use it."""
        return executable

    def daemon_config(self, argv: list[str]) -> str:
        """The config file a daemon started with ``argv`` reads: the last of
        :attr:`config_options`, else :attr:`default_config`."""
        found = self.default_config
        for i, a in enumerate(argv[1:], 1):
            for opt in self.config_options:
                if a == opt and i + 1 < len(argv):
                    found = argv[i + 1]
                elif a.startswith(opt + "="):
                    found = a[len(opt) + 1:]
        return found

    # ------------------------------------------------------------------ sources

    def source(self, spec: str, config: str, executable: str = "", host_root: str = "",
               drop_in: str = "", command_reads_config: bool = False) -> "Source":
        """The source for ``--config-source`` (one kind or a comma-separated list: the first
        that loads).  ``command_reads_config``: the command dumps ``config`` rather than the
        daemon's default file (the installer; ``runtime configure`` runs the reference's exact
        command).  Raises :class:`UsageError` for an unknown kind (reference wording)."""
        from .. import sources
        built = []
        for item in [s.strip() for s in spec.split(",")] if spec else ["file"]:
            kind, _, arg = item.partition("=")
            kind, arg = kind.strip(), arg.strip()
            if kind == "file":
                built.append(sources.FileSource(arg or config))
            elif kind == "command":
                built.append(self.command_source(executable, host_root,
                                                 config if command_reads_config else ""))
            elif kind == "effective":
                built.append(self.effective_source(arg or config, drop_in))
            else:
                raise errors.UsageError(f"unrecognized Config Source: {item}")
        return built[0] if len(built) == 1 else sources.FirstOf(tuple(built))

    def check_source_spec(self, spec: str) -> None:
        """``runtime configure --config-source``: :class:`UsageError` (or a warning) for a
        value this engine cannot use, before the other flags are checked."""

    def command_source(self, executable: str, host_root: str, config: str) -> "Source":
        raise NotImplementedError

    def effective_source(self, config: str, drop_in: str) -> "Source":
        raise NotImplementedError

    def load_error(self, detail: str, config: str) -> str:
        """The reference's wording for a config that cannot be loaded (after the shared
        ``unable to load config for runtime <name>: ``)."""
        return detail

    def load(self, source: "Source", config: str = "") -> "Snapshot":
        """Load the effective config; errors carry the reference's wording."""
        try:
            return source.load()
        except errors.ConfigLoadError as exc:
            detail = self.load_error(str(exc), config)
            raise errors.ConfigLoadError(f"unable to load config for runtime {self.name}: {detail}") from None

    # ------------------------------------------------------------------ plans

    def plan_configure(self, req: ConfigureRequest, snapshot: "Snapshot | None" = None) -> ConfigurePlan:
        """Read the files and compute what configure writes (``snapshot``: the effective
        config already loaded from ``req.source``).  Raises :class:`CtkError` subclasses."""
        raise NotImplementedError

    def read_toml(self, req: ConfigureRequest, snapshot: "Snapshot | None" = None):
        """For engines whose files are TOML: the effective config (``snapshot``, else loaded
        from ``req.source``), the top-level file opened for editing (:func:`top_file`) and the
        drop-in's current bytes (None: none)."""
        snap = snapshot or self.load(req.source, req.config)
        top = top_file(req.config, self.name)
        return snap, top, read_config(req.drop_in, self.name) if req.drop_in else None

    def remove(self, path: str, cur: bytes, names: list[str], rec: "Record | None") -> bytes | None:
        """``cur`` (the file at ``path``) with the handlers ``names`` and what the record says
        configure added removed (None: the file should not exist)."""
        raise NotImplementedError

    def default_runtime(self, tree: dict) -> str:
        raise NotImplementedError

    def low_level_runtimes(self, tree: dict) -> list[str]:
        """Binary paths of the default/runc/crun handlers of ``tree``, de-duplicated."""
        raise NotImplementedError


__all__ = ["Engine", "ConfigureRequest", "ConfigurePlan", "read_config", "top_file"]
