"""The injection plan: everything the hook decided, in one value, and how it is built.

A :class:`Plan` is what the decision (:mod:`hook.decide`) and the config become
for an injector.  The CLI injector renders it as the exact
``nvidia-container-cli`` argument vector of the reference hook
(:meth:`Plan.cli_args`) and execs it as the plan says (``cli_path``,
``cli_environment``); the library injector performs the same request through
libnvidia-container.  Both read only this value.

:func:`build_plan` adds what comes from the config and the host (ldconfig path,
default user, working directory) through a :class:`Host`, and says why for the
options that come from the config.
"""

from __future__ import annotations

from . import oslite
from .values import Value


class GlobalOptions(Value, frozen=True):
    """Options placed before ``configure`` (hook.md §7.1 rows 1-7)."""

    root: str = ""
    load_kmods: bool = True
    no_create_imex_channels: bool = False
    no_pivot: bool = False
    debug: str = ""
    ldcache: str = ""
    user: str = ""

    def cli_args(self) -> list[str]:
        args: list[str] = []
        if self.root:
            args.append(f"--root={self.root}")
        if self.load_kmods:
            args.append("--load-kmods")
        if self.no_create_imex_channels:
            args.append("--no-create-imex-channels")
        if self.no_pivot:
            args.append("--no-pivot")
        if self.debug:
            args.append(f"--debug={self.debug}")
        if self.ldcache:
            args.append(f"--ldcache={self.ldcache}")
        if self.user:
            args.append(f"--user={self.user}")
        return args


class Plan(Value, frozen=True):
    """One GPU injection request, fully resolved.

    ``devices`` and ``imex_channels`` are the id lists; an empty joined string
    means "no flag" (``NVIDIA_VISIBLE_DEVICES=none`` gives ``("",)``: the CLI
    still runs, with no device).  ``cuda_compat_mode`` is ``None`` when no
    ``--cuda-compat-mode`` flag is emitted.  ``pid`` is already the unsigned
    64-bit value.  ``rootfs`` is absolute.  The last four fields say how to
    inject (``[nvidia-container-runtime-hook] injector`` and ``library-path``, and
    ``nvidia-container-cli.path`` / ``environment``, hook.md §7.6).
    """

    options: GlobalOptions
    cuda_compat_mode: str | None
    ldconfig: str
    no_cgroups: bool
    devices: tuple[str, ...]
    mig_config: str
    mig_monitor: str
    imex_channels: tuple[str, ...]
    capabilities: tuple[str, ...]
    requirements: tuple[str, ...]
    pid: int
    rootfs: str
    injector: str = "auto"
    library_path: str = ""
    cli_path: str = ""
    cli_environment: tuple[str, ...] = ()

    @property
    def device_list(self) -> str:
        return ",".join(self.devices)

    @property
    def imex_list(self) -> str:
        return ",".join(self.imex_channels)

    def configure_args(self) -> list[str]:
        """Arguments from ``configure`` on (hook.md §7.1 rows 8-19)."""
        args = ["configure"]
        if self.cuda_compat_mode is not None:
            args.append(f"--cuda-compat-mode={self.cuda_compat_mode}")
        if self.ldconfig:
            args.append(f"--ldconfig={self.ldconfig}")
        if self.no_cgroups:
            args.append("--no-cgroups")
        if self.device_list:
            args.append(f"--device={self.device_list}")
        if self.mig_config:
            args.append(f"--mig-config={self.mig_config}")
        if self.mig_monitor:
            args.append(f"--mig-monitor={self.mig_monitor}")
        if self.imex_list:
            args.append(f"--imex-channel={self.imex_list}")
        args.extend(f"--{cap}" for cap in self.capabilities)
        args.extend(f"--require={req}" for req in self.requirements)
        args.append(f"--pid={self.pid}")
        args.append(self.rootfs)
        return args

    def cli_args(self) -> list[str]:
        """The CLI's arguments after ``argv[0]``, exactly as the reference hook builds them."""
        return self.options.cli_args() + self.configure_args()


# --- building a plan: what comes from the config and the host ----------------

class Host:
    """The host facts a plan depends on; tests substitute their own.

    ``cwd`` is the directory relative paths are taken from: None for the process's
    own (``prestart``: runc runs hooks in the bundle), the bundle for ``explain``.
    """

    def __init__(self, cwd: str | None = None) -> None:
        self.cwd = cwd

    def exists(self, path: str) -> bool:
        if self.cwd is not None and not path.startswith("/"):
            path = oslite.join(self.cwd, path)
        return oslite.exists(path)

    def default_user(self) -> str:
        from .config import default_user
        return default_user()

    def abspath(self, path: str) -> str:
        from .gocompat import abspath
        return abspath(path, self.cwd)


def normalise_ldconfig(value: str, host: Host) -> str:
    """hook.md §7.4: ``@path`` becomes ``@path.real`` when that exists."""
    if not value.startswith("@"):
        return value
    p = value[1:]
    if p.endswith(".real"):
        p = p[: -len(".real")]
    if host.exists(p + ".real"):
        return "@" + p + ".real"
    return "@" + p


def cuda_compat_mode(config: HookConfig, why=None) -> str | None:
    """hook.md §7.3: the ``--cuda-compat-mode`` value, None for no flag.  ``why(text)`` hears the reason."""
    key = "nvidia-container-runtime.modes.legacy.cuda-compat-mode"
    mode = config.cuda_compat_mode
    if mode in ("ldconfig", "mount", "disabled"):
        flag = mode
    elif mode == "hook":
        flag = "disabled"
    else:
        flag = None if config.allow_cuda_compat_libs_from_container else "disabled"
    if why is not None:
        if flag is None:
            why(f"no flag: {config.origin(key)} {mode!r} is unknown and "
                "allow-cuda-compat-libs-from-container = true")
        else:
            why(f"--cuda-compat-mode={flag} from {config.origin(key)} {mode!r}")
    return flag


def build_plan(d: Decision, config: HookConfig, spec: Spec, state: HookState, *,
               debug_flag: bool, host: Host | None = None, why=None) -> Plan:
    """The plan for a GPU decision.  ``why(topic, text)`` hears why the options that come from the
    config (not the container) are what they are.  Raises OSError if the working directory is gone."""
    host = host or Host()
    user = config.cli_user if config.cli_user is not None else host.default_user()
    options = GlobalOptions(
        root=config.cli_root,
        load_kmods=config.cli_load_kmods,
        no_create_imex_channels=config.disable_imex_channel_creation,
        no_pivot=config.cli_no_pivot,
        debug="/dev/stderr" if debug_flag else config.cli_debug,
        ldcache=config.cli_ldcache,
        user=user,
    )
    compat = cuda_compat_mode(config, (lambda text: why("cuda-compat", text)) if why else None)
    ldconfig = normalise_ldconfig(config.cli_ldconfig, host)
    if why:  # the reasons (explain); prestart passes none
        key = "nvidia-container-cli.ldconfig"
        if ldconfig != config.cli_ldconfig:
            why("ldconfig", f"{ldconfig} ({config.origin(key)} {config.cli_ldconfig!r}; the '.real' file decides)")
        elif ldconfig:
            why("ldconfig", f"{ldconfig} ({config.origin(key)})")
        if user:
            source = config.origin("nvidia-container-cli.user") if config.cli_user is not None \
                else "SUSE-like host (/etc/os-release)"
            why("user", f"--user={user} ({source})")
    assert d.devices is not None
    return Plan(
        options=options,
        cuda_compat_mode=compat,
        ldconfig=ldconfig,
        no_cgroups=config.cli_no_cgroups,
        devices=d.devices,
        mig_config=d.mig_config,
        mig_monitor=d.mig_monitor,
        imex_channels=d.imex_channels,
        capabilities=d.capabilities,
        requirements=d.requirements,
        pid=state.cli_pid,
        rootfs=host.abspath(spec.root_path),
        injector=config.injector,
        library_path=config.library_path,
        cli_path=config.cli_path,
        cli_environment=config.cli_environment,
    )
