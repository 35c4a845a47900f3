"""The installer flow (``nvidia-ctk install`` / ``uninstall``), as a library with a CLI.

1. extract the effective runtime config once (:class:`ctk.sources.Snapshot`);
2. stage the toolkit (:mod:`ctk.toolkit`: the frozen programs and ``config.toml``) in
   ``<install-dir>/toolkit`` with settings derived from (1), the low-level runtime path(s), and
   from the injection back end found under ``--driver-root``;
3. check the fingerprint of (1) again, swap the toolkit in and update the runtime config
   (nothing is written when the config changed since (1));
4. restart the runtime (signal via pid file or socket, systemd, none) only if the runtime
   config changed.

``uninstall`` restores the runtime config recorded by install (byte-identical when nobody
touched it), removes the toolkit and restarts once.  ``--watch`` runs install, waits for
SIGTERM/SIGINT and then uninstalls (the toolkit-container pattern); signals that arrive
during set-up are held and handled after it, so a half-applied state is never left behind.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field

from hook.atomicfile import sha256
from hook.gocompat import under_root

from . import configure as cfgmod
from . import engines, fileio, installer_cdi, state
from .cli_flags import Flag, parse_command, usage
from .common import Handler, RuntimeOptions, go_list, log
from . import errors
from .plan import check as plan_check
from .plan import Plan, unified_diff
from .sources import Snapshot

DEFAULT_INSTALL_DIR = "/usr/local/nvidia"
RUNTIME_BINARIES = ("nvidia-container-runtime", "nvidia-container-runtime.cdi",
                    "nvidia-container-runtime.legacy")


@dataclass(frozen=True, slots=True)
class InstallOptions:
    runtime: str = "docker"
    install_dir: str = DEFAULT_INSTALL_DIR
    config: str = ""
    drop_in: str | None = None           # None: runtime default
    drop_in_host_path: str = ""
    config_sources: str = "command,file"
    executable: str = ""
    host_root: str = ""
    runtime_name: str = "nvidia"
    set_as_default: bool = True
    enable_cdi: bool = False
    restart_mode: str = ""
    socket: str = ""
    runtime_pid_file: str = ""
    state_dir: str = ""
    no_runtime_config: bool = False
    low_level_runtimes: tuple[str, ...] = ()
    crio_config_mode: str = "config"
    hooks_dir: str = "/usr/share/containers/oci/hooks.d"
    hook_filename: str = "oci-nvidia-hook.json"
    driver_root: str = "/"
    toolkit_source: str = ""
    cdi_enabled: bool = False            # the management CDI spec (ctk/installer_cdi.py)
    cdi_output_dir: str = installer_cdi.DEFAULT_OUTPUT_DIR
    cdi_kind: str = installer_cdi.DEFAULT_KIND

    @property
    def toolkit_root(self) -> str:
        return os.path.join(self.install_dir, "toolkit")

    @property
    def engine(self) -> engines.base.Engine:
        """The runtime's engine (:func:`validate` first: :class:`KeyError` for an unknown one)."""
        return engines.get(self.runtime)

    @property
    def config_path(self) -> str:
        return self.config or self.engine.default_config

    @property
    def drop_in_path(self) -> str:
        if not self.engine.default_drop_in:
            return ""
        return self.engine.drop_in_for(self.config_path) if self.drop_in is None else self.drop_in

    @property
    def oci_hook_mode(self) -> bool:
        """``--config-mode=hook`` for an engine that has it: a hooks.d file instead of the
        runtime config, and no restart."""
        return self.engine.has_oci_hook_mode and self.crio_config_mode == "hook"

    @property
    def restart_mode_or_default(self) -> str:
        return self.restart_mode or self.engine.default_restart

    @property
    def hook_path(self) -> str:
        return os.path.join(self.hooks_dir, self.hook_filename)


def validate(o: InstallOptions) -> None:
    """Raises :class:`UsageError` for inconsistent options."""
    if o.runtime not in engines.MODULES:
        raise errors.UsageError(f'invalid runtime "{o.runtime}"; expected one of [{" | ".join(engines.NAMES)}]')
    if not o.install_dir or not os.path.isabs(o.install_dir):
        raise errors.UsageError(f'the toolkit install dir "{o.install_dir}" is not an absolute path')
    if o.restart_mode and o.restart_mode not in ("signal", "systemd", "none"):
        raise errors.UsageError(f"invalid restart mode specified: {o.restart_mode}")
    if o.crio_config_mode not in ("config", "hook"):
        raise errors.UsageError(f'invalid cri-o config mode "{o.crio_config_mode}"')
    if o.drop_in_path and not os.path.isabs(o.drop_in_path):
        raise errors.UsageError(f'the drop-in-config path "{o.drop_in_path}" is not an absolute path')
    if not o.runtime_name:
        raise errors.UsageError("the --runtime-name flag must not be empty")
    installer_cdi.validate(o)


def handlers(o: InstallOptions) -> RuntimeOptions:
    """The three NVIDIA handlers (upstream §0.2)."""
    name = o.runtime_name or "nvidia"
    first = "nvidia" if name in ("nvidia-cdi", "nvidia-legacy") else name
    hs = (Handler(first, os.path.join(o.toolkit_root, RUNTIME_BINARIES[0])),
          Handler("nvidia-cdi", os.path.join(o.toolkit_root, RUNTIME_BINARIES[1])),
          Handler("nvidia-legacy", os.path.join(o.toolkit_root, RUNTIME_BINARIES[2])))
    return RuntimeOptions(hs, name, o.set_as_default, o.enable_cdi)


def source_for(o: InstallOptions):
    return o.engine.source(o.config_sources, o.config_path, o.executable, o.host_root,
                           o.drop_in_path, command_reads_config=True)


def extract(o: InstallOptions) -> Snapshot:
    """Step 1: the effective config (read once)."""
    return o.engine.load(source_for(o), o.config_path)


def detect_low_level(o: InstallOptions, snap: Snapshot) -> list[str]:
    """Low-level runtime paths for the toolkit config: detected ones, then runc, crun."""
    if o.low_level_runtimes:
        return list(o.low_level_runtimes)
    return o.engine.low_level_runtimes(snap.tree) + ["runc", "crun"]


# --------------------------------------------------------------------------- toolkit files

def stage_toolkit(o: InstallOptions, low_level: list[str], backend) -> str:
    """Step 2: build the toolkit (:mod:`ctk.toolkit`) in a staging directory next to its final place."""
    from . import toolkit
    from .toolkitconfig import render
    config = render(None, toolkit.config_sets(o.toolkit_root, o.driver_root, low_level, backend))
    stage = None
    try:
        stage = tempfile.mkdtemp(prefix=".toolkit.staging.", dir=o.install_dir)
        os.chmod(stage, 0o755)
        toolkit.lay_down(stage, o.toolkit_source or toolkit.default_source(), config)
    except OSError as exc:
        if stage:
            shutil.rmtree(stage, ignore_errors=True)
        raise errors.InstallError(f"unable to install the toolkit into {o.install_dir}: "
                                  f"{exc.strerror or exc}") from None
    except BaseException:
        if stage:
            shutil.rmtree(stage, ignore_errors=True)
        raise
    return stage


def swap_in(o: InstallOptions, stage: str) -> str | None:
    """Put the staged toolkit in place; returns the directory holding the previous one (for
    :func:`swap_back`, else :func:`_drop_old`)."""
    root = o.toolkit_root
    old = None
    try:
        if os.path.lexists(root):
            old = tempfile.mkdtemp(prefix=".toolkit.old.", dir=o.install_dir)
            os.rename(root, os.path.join(old, "toolkit"))
        os.rename(stage, root)
    except OSError as exc:
        raise errors.InstallError(f"unable to install the toolkit into {root}: {exc.strerror}") from None
    return old


def swap_back(o: InstallOptions, old: str | None) -> None:
    """Undo :func:`swap_in`: remove the new toolkit, put the previous one back."""
    shutil.rmtree(o.toolkit_root, ignore_errors=True)
    if old:
        try:
            os.rename(os.path.join(old, "toolkit"), o.toolkit_root)
        except OSError as exc:
            log.warning("unable to restore the previous toolkit from %s: %s", old, exc.strerror)
            return
        _drop_old(old)


def _drop_old(old: str | None) -> None:
    if old:
        shutil.rmtree(old, ignore_errors=True)


def remove_toolkit(o: InstallOptions) -> bool:
    root = o.toolkit_root
    if not os.path.lexists(root):
        return False
    try:
        shutil.rmtree(root)
    except OSError as exc:
        raise errors.InstallError(f"unable to remove {root}: {exc.strerror}") from None
    log.info("Removed toolkit from %s", root)
    return True


# --------------------------------------------------------------------------- restart

def _peer_pid(sock_path: str) -> int:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect(sock_path)
        creds = s.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
        pid, _, _ = struct.unpack("3i", creds)
        return pid
    finally:
        s.close()


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_daemon(o: InstallOptions, pid: int, verb: str = "signal") -> None:
    """Refuse to signal ``pid`` unless it is the daemon that reads the config we edited (its
    command line names that file, or names none and ours is the default).  A private
    ``--config`` must never restart (or, for containerd, kill) the host's daemon.

    Raises :class:`RestartError` saying how to point at the right daemon.
    """
    svc = o.engine.service
    ours = o.config_path
    how = (f"point --socket or --runtime-pid-file at the {svc} daemon that reads {ours}, "
           f"or use --restart-mode=none (or systemd)")
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [os.fsdecode(a) for a in f.read(1 << 20).split(b"\0")[:-1]]
        theirs = o.engine.daemon_config(argv)
        if not os.path.isabs(theirs):        # only then is its working directory needed
            theirs = os.path.join(os.readlink(f"/proc/{pid}/cwd"), theirs)
    except OSError as exc:
        raise errors.RestartError(f"refusing to {verb} {svc} (pid {pid}): cannot read its command line "
                                  f"({exc.strerror}) to check that it reads {ours}; {how}") from None
    candidates = [theirs]
    if o.host_root.rstrip("/"):
        candidates.append(under_root(o.host_root, theirs))
    if not any(_same_file(c, ours) for c in candidates):
        raise errors.RestartError(f"refusing to {verb} {svc} (pid {pid}): it reads {theirs}, not {ours}; {how}")


def _systemctl(o: InstallOptions, *args: str) -> list[str]:
    argv = ["systemctl", *args]
    return ["chroot", o.host_root, *argv] if o.host_root else argv


def target_pid(o: InstallOptions) -> int | None:
    """The pid of the daemon a restart in ``o``'s mode would hit: the ``--runtime-pid-file``
    pid or the peer of ``--socket`` (signal), the unit's main pid (systemd; None when it is not
    running), None for ``none``.  Raises :class:`RestartError`."""
    mode = o.restart_mode_or_default
    svc = o.engine.service
    if mode == "none":
        return None
    if mode == "systemd":
        r = subprocess.run(_systemctl(o, "show", "--property=MainPID", "--value", svc),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True)
        pid = r.stdout.strip()
        if r.returncode != 0 or not pid.isdigit():
            raise errors.RestartError(f"error restarting {svc} using systemd: cannot find its main process")
        return int(pid) or None
    if not o.engine.signal_restart:
        raise errors.RestartError(f"supporting {o.runtime} via signal is unsupported")
    try:
        if o.runtime_pid_file:
            with open(o.runtime_pid_file) as f:
                return int(f.read(64).strip())
        return _peer_pid(o.socket or o.engine.default_socket)
    except (OSError, ValueError) as exc:
        raise errors.RestartError(f"unable to signal {svc}: {getattr(exc, 'strerror', None) or exc}") from None


def check_restart_target(o: InstallOptions) -> int | None:
    """:func:`target_pid`, checked with :func:`check_daemon`."""
    pid = target_pid(o)
    if pid is not None:
        mode = o.restart_mode_or_default
        check_daemon(o, pid, "signal" if mode == "signal" else "restart")
    return pid


def restart(o: InstallOptions) -> None:
    """Step 4: only the daemon that reads our config is signalled or restarted.
    Raises :class:`RestartError`."""
    mode = o.restart_mode_or_default
    svc = o.engine.service
    if mode == "none":
        log.warning("Skipping restart of %s due to --restart-mode=none", svc)
        return
    pid = check_restart_target(o)
    if mode == "systemd":
        r = subprocess.run(_systemctl(o, "restart", svc), stdin=subprocess.DEVNULL)
        if r.returncode != 0:
            raise errors.RestartError(f"error restarting {svc} using systemd")
        return
    try:
        os.kill(pid, signal.SIGHUP)
    except OSError as exc:
        raise errors.RestartError(f"unable to signal {svc}: {exc.strerror}") from None
    log.info("Sent SIGHUP to %s (pid %d)", svc, pid)


# --------------------------------------------------------------------------- flows

@dataclass(slots=True)
class Outcome:
    config_changed: bool = False
    restarted: bool = False
    low_level: list[str] = field(default_factory=list)
    backend: object = None        # ctk.toolkit.Backend
    cdi_specs: list[str] = field(default_factory=list)   # written by install, removed by uninstall


def _config_paths(o: InstallOptions) -> tuple[str, ...]:
    """The runtime config files install/uninstall write (locked while they run)."""
    if o.no_runtime_config:
        return ()
    if o.oci_hook_mode:
        return (o.config_path, o.hook_path)
    return (o.config_path, o.drop_in_path)


def install(o: InstallOptions, dry_run: bool = False) -> Outcome:
    """The installer flow.  Raises :class:`CtkError` subclasses; on a fingerprint mismatch
    (:class:`ctk.errors.ConfigChangedError`) or a runtime config that cannot be written,
    nothing at all is written (the toolkit is not installed, or is taken back)."""
    validate(o)
    paths = _config_paths(o) + _cdi_paths(o)
    if dry_run or not paths:
        return _install(o, dry_run)
    with cfgmod.locked(state.state_dir(o.state_dir), *paths):
        return _install(o, dry_run)


def _cdi_paths(o: InstallOptions) -> tuple[str, ...]:
    """The CDI spec install writes with ``--cdi-enabled`` (locked like the runtime config)."""
    return (installer_cdi.spec_path(o.cdi_output_dir, o.cdi_kind),) if o.cdi_enabled else ()


def _install(o: InstallOptions, dry_run: bool) -> Outcome:
    out = Outcome()
    snap = extract(o)                                            # (1)
    out.low_level = detect_low_level(o, snap)
    log.info("Detected low-level runtimes %s", go_list(out.low_level))
    from .toolkit import find_backend
    out.backend = backend = find_backend(o.driver_root, o.host_root)
    if backend.library or backend.cli:
        log.info("Found the %s", backend)
    else:
        log.warning("%s", backend)
    prep = None
    sdir = state.state_dir(o.state_dir)
    if not o.no_runtime_config:
        if o.oci_hook_mode:
            prep = _hook_plan(o)
        else:
            req = cfgmod.ConfigureRequest(o.runtime, o.config_path, o.drop_in_path, source_for(o),
                                          handlers(o), drop_in_host_path=o.drop_in_host_path)
            prep = cfgmod.prepare_configure(req, snapshot=snap)
    cdi_change = installer_cdi.prepare(o)                       # generated before any write
    if dry_run:
        sys.stdout.write(f"# toolkit {o.toolkit_root}: {backend}\n")
        if prep is not None:
            sys.stdout.write(unified_diff(prep.plan))
        if cdi_change is not None:
            sys.stdout.write(unified_diff(Plan([cdi_change])))
        return out
    if prep is not None:
        plan_check(prep.plan, os.path.join(sdir, "backups"))   # before the toolkit goes in
    if cdi_change is not None:
        plan_check(Plan([cdi_change]), None)
    if prep is not None and prep.plan.changed and not o.oci_hook_mode:
        check_restart_target(o)          # refuse before writing anything, not after
    created = fileio.make_dirs(o.install_dir)
    stage = None
    try:
        stage = stage_toolkit(o, out.low_level, backend)         # (2)
        if prep is not None:
            cfgmod.verify_unchanged(prep, recheck_source=True)   # fingerprint of (1)
    except BaseException:
        if stage:
            shutil.rmtree(stage, ignore_errors=True)
        fileio.remove_empty_dirs(created)
        raise
    old = swap_in(o, stage)
    log.info("Installed toolkit into %s", o.toolkit_root)
    cdi_written = None
    if prep is not None or cdi_change is not None:
        try:
            if cdi_change is not None:
                cdi_written = installer_cdi.commit(cdi_change, o, sdir)
                out.cdi_specs.append(cdi_change.path)
            if prep is not None:
                out.config_changed = cfgmod.commit(prep, sdir, recheck_source=False)   # (3)
        except BaseException:
            if cdi_written is not None:
                installer_cdi.undo(cdi_written, o, sdir)
            swap_back(o, old)
            fileio.remove_empty_dirs(created)
            raise
    _drop_old(old)
    if prep is not None:
        if out.config_changed and not o.oci_hook_mode:
            restart(o)                                            # (4)
            out.restarted = True
        elif not out.config_changed:
            log.info("%s configuration unchanged; not restarting", o.runtime)
    return out


def _hook_plan(o: InstallOptions) -> cfgmod.Prepared:
    from hook.hooksd import render
    from .plan import FileChange, Plan
    before = fileio.read_optional(o.hook_path)
    after = render(os.path.join(o.toolkit_root, "nvidia-container-runtime-hook")).encode()
    plan = Plan([FileChange(o.hook_path, before, after, "hook")])
    rec = state.Record(o.runtime, os.path.abspath(o.config_path), "", [], None, False, None, None,
                       [state.FileRecord(o.hook_path, "hook", state.b64(before), sha256(after))])
    return cfgmod.Prepared(o.runtime, o.config_path, plan, rec)


def uninstall(o: InstallOptions) -> Outcome:
    """Reverse install: restore the runtime config, remove the toolkit, restart once."""
    validate(o)
    out = Outcome()
    sdir = state.state_dir(o.state_dir)
    if not o.no_runtime_config:
        names = [h.name for h in handlers(o).handlers]
        with cfgmod.locked(sdir, *_config_paths(o)):
            prep = cfgmod.prepare_unconfigure(o.runtime, o.config_path, o.drop_in_path, names, sdir,
                                              extra_paths=_config_paths(o))
            if o.oci_hook_mode and prep.record is None:
                from .plan import FileChange
                cur = fileio.read_optional(o.hook_path)
                prep.plan.changes[:] = [FileChange(o.hook_path, cur, None, "hook")] if cur is not None else []
            out.config_changed = cfgmod.commit_unconfigure(prep, sdir)
    out.cdi_specs = _remove_cdi_specs(o, sdir)
    remove_toolkit(o)
    if out.config_changed and not o.oci_hook_mode:
        restart(o)
        out.restarted = True
    return out


def _remove_cdi_specs(o: InstallOptions, sdir: str) -> list[str]:
    """The CDI spec files install wrote into ``--cdi-output-dir`` (whatever ``--cdi-enabled`` says now)."""
    if not os.path.lexists(installer_cdi.record_path(sdir, o.cdi_output_dir)):
        return []
    with cfgmod.locked(sdir, installer_cdi.spec_path(o.cdi_output_dir, o.cdi_kind)):
        return installer_cdi.remove(o, sdir)


class PidFile:
    """``<dir>/toolkit.pid`` with an exclusive lock (one installer at a time)."""

    def __init__(self, path: str):
        self.path = path
        self.fd: int | None = None

    def __enter__(self) -> "PidFile":
        try:
            os.makedirs(os.path.dirname(self.path) or ".", mode=0o755, exist_ok=True)
            self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise errors.InstallError(f"unable to get flock on pidfile {self.path}: "
                                      "another installer is running") from None
        except OSError as exc:
            raise errors.InstallError(f"unable to create pidfile {self.path}: {exc.strerror}") from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, f"{os.getpid()}\n".encode())
        return self

    def __exit__(self, *exc) -> None:
        try:
            os.unlink(self.path)
        except OSError:
            pass
        if self.fd is not None:
            os.close(self.fd)


def watch(o: InstallOptions, pid_file: str) -> int:
    """Install, wait for SIGTERM/SIGINT/SIGHUP/SIGQUIT, uninstall.  Signals arriving during
    set-up are blocked and handled after it."""
    sigs = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
    with PidFile(pid_file):
        install(o)
        log.info("Set-up complete; waiting for a termination signal")
        sys.stderr.flush()
        got = signal.sigwait(sigs)
        log.info("Received %s; cleaning up", signal.Signals(got).name)
        uninstall(o)
    return 0


# --------------------------------------------------------------------------- CLI

INSTALL_FLAGS = [
    Flag(("runtime", "r"), "string", "docker", "containerd | crio | docker", ("RUNTIME",)),
    Flag(("toolkit-install-dir", "root"), "string", DEFAULT_INSTALL_DIR, "the toolkit goes to <dir>/toolkit", ("TOOLKIT_INSTALL_DIR", "ROOT")),
    Flag(("config",), "string", "", "top-level runtime config", ("RUNTIME_CONFIG", "CONTAINERD_CONFIG", "DOCKER_CONFIG"),
         shown_default="/etc/docker/daemon.json, /etc/containerd/config.toml or /etc/crio/crio.conf"),
    Flag(("drop-in-config",), "string", None, "drop-in config ('' edits in place)", ("RUNTIME_DROP_IN_CONFIG",),
         shown_default="conf.d/99-nvidia.toml (containerd) or crio.conf.d/99-nvidia.toml (crio) next to --config; docker: none"),
    Flag(("drop-in-config-host-path",), "string", "", "host path of the drop-in (for containerd imports)", ("RUNTIME_DROP_IN_CONFIG_HOST_PATH",)),
    Flag(("executable-path",), "string", "", "runtime executable for the command source", ("RUNTIME_EXECUTABLE_PATH",),
         shown_default="containerd or crio from PATH"),
    Flag(("config-source", "config-sources"), "list", ("command", "file"), "ordered list: command, file[=path], effective", ("RUNTIME_CONFIG_SOURCES", "RUNTIME_CONFIG_SOURCE")),
    Flag(("socket",), "string", "", "runtime socket used by --restart-mode=signal", ("RUNTIME_SOCKET", "CONTAINERD_SOCKET", "DOCKER_SOCKET"),
         shown_default="/run/containerd/containerd.sock or /var/run/docker.sock"),
    Flag(("runtime-pid-file",), "string", "", "signal the pid in this file instead of the socket's peer", ("RUNTIME_PID_FILE",)),
    Flag(("restart-mode",), "string", "", "signal | systemd | none", ("RUNTIME_RESTART_MODE",),
         shown_default="signal for containerd and docker, systemd for crio"),
    Flag(("host-root",), "string", "", "chroot for command sources and systemctl", ("HOST_ROOT_MOUNT",),
         shown_default="none"),
    Flag(("runtime-name", "nvidia-runtime-name", "runtime-class"), "string", "nvidia", "name of the NVIDIA runtime", ("NVIDIA_RUNTIME_NAME", "CONTAINERD_RUNTIME_CLASS", "DOCKER_RUNTIME_NAME")),
    Flag(("set-as-default",), "bool", True, "make the NVIDIA runtime the default", ("NVIDIA_RUNTIME_SET_AS_DEFAULT", "CONTAINERD_SET_AS_DEFAULT", "DOCKER_SET_AS_DEFAULT")),
    Flag(("enable-cdi-in-runtime",), "bool", False, "enable CDI in the runtime", ("RUNTIME_ENABLE_CDI",)),
    Flag(("no-runtime-config",), "bool", False, "install the toolkit only", ("NO_RUNTIME_CONFIG",)),
    Flag(("nvidia-container-runtime.runtimes",), "list", (), "low-level runtimes (skips detection)", ("NVIDIA_CONTAINER_RUNTIME_RUNTIMES",)),
    Flag(("config-mode",), "string", "config", "crio: config | hook", ("CRIO_CONFIG_MODE",)),
    Flag(("hooks-dir",), "string", "/usr/share/containers/oci/hooks.d", "crio hook mode", ("CRIO_HOOKS_DIR",)),
    Flag(("hook-filename",), "string", "oci-nvidia-hook.json", "crio hook mode", ("CRIO_HOOK_FILENAME",)),
    Flag(("driver-root",), "string", "/", "where the driver and libnvidia-container / nvidia-container-cli are", ("NVIDIA_DRIVER_ROOT", "DRIVER_ROOT")),
    Flag(("toolkit-source",), "string", "", "the frozen binary to install", ("NVIDIA_CTK_TOOLKIT_SOURCE",),
         shown_default="the running binary when frozen, else <repo>/dist/nvidia-container-runtime-hook"),
    Flag(("state-dir",), "string", "", "where install records what it changed", ("NVIDIA_CTK_STATE_DIR",),
         shown_default="/var/lib/nvidia-ctk for root"),
    Flag(("pid-file",), "string", "/run/nvidia/toolkit/toolkit.pid", "pid file (with --watch)", ("TOOLKIT_PID_FILE", "PID_FILE")),
    Flag(("watch",), "bool", False, "stay running; undo the set-up on SIGTERM", ("WATCH",)),
    Flag(("dry-run",), "bool", False, "print the runtime config diff; change nothing"),
] + installer_cdi.FLAGS


def options_from_flags(v: dict, given: set | frozenset = frozenset()) -> InstallOptions:
    """``--enable-cdi-in-runtime`` defaults to ``--cdi-enabled`` unless it is in ``given``."""
    low = tuple(x for x in v["nvidia-container-runtime.runtimes"] if x)
    return InstallOptions(
        runtime=v["runtime"], install_dir=v["toolkit-install-dir"], config=v["config"],
        drop_in=v["drop-in-config"], drop_in_host_path=v["drop-in-config-host-path"],
        config_sources=",".join(v["config-source"]), executable=v["executable-path"], host_root=v["host-root"],
        runtime_name=v["runtime-name"], set_as_default=v["set-as-default"],
        enable_cdi=v["enable-cdi-in-runtime"] or (v["cdi-enabled"] and "enable-cdi-in-runtime" not in given),
        restart_mode=v["restart-mode"], socket=v["socket"],
        runtime_pid_file=v["runtime-pid-file"], state_dir=v["state-dir"],
        no_runtime_config=v["no-runtime-config"], low_level_runtimes=low,
        crio_config_mode=v["config-mode"], hooks_dir=v["hooks-dir"], hook_filename=v["hook-filename"],
        driver_root=v["driver-root"], toolkit_source=v["toolkit-source"],
        cdi_enabled=v["cdi-enabled"], cdi_output_dir=v["cdi-output-dir"], cdi_kind=v["cdi-kind"])


def cmd_install(args: list[str]) -> int:
    p = parse_command(INSTALL_FLAGS, args,
                      usage("NAME:\n   nvidia-ctk install - install the toolkit and configure the runtime", INSTALL_FLAGS))
    if p is not None:
        o = options_from_flags(p.values, p.given)
        if p.values["watch"]:
            return watch(o, p.values["pid-file"])
        install(o, dry_run=p.values["dry-run"])
    return 0


def cmd_uninstall(args: list[str]) -> int:
    p = parse_command(INSTALL_FLAGS, args,
                      usage("NAME:\n   nvidia-ctk uninstall - restore the runtime config and remove the toolkit", INSTALL_FLAGS))
    if p is not None:
        uninstall(options_from_flags(p.values, p.given))
    return 0


__all__ = ["InstallOptions", "install", "uninstall", "watch", "CtkError"]
