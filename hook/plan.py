"""The injection plan: everything the hook decided, in one value.

A :class:`Plan` is what the decision logic hands to an injector.  The CLI
injector renders it as the exact ``nvidia-container-cli`` argument vector of
the reference hook (:meth:`Plan.cli_args`); the library injector performs the
same request through libnvidia-container.  Both read only this value.
"""

from __future__ import annotations

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
    64-bit value.  ``rootfs`` is absolute.
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
