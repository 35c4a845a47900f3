"""From (config, spec, state) to a decision and a :class:`~hook.plan.Plan`.

:func:`decide` applies the privilege/acceptance table (hook.md §6) and the
image model, recording for every decision the reason (which variable, mount or
config key decided it).  ``prestart`` and ``explain`` both use it, so what
``explain`` prints is what ``prestart`` does.  :func:`build_plan` adds what
comes from the host (ldconfig path, default user, cwd) through a :class:`Host`.
"""

from __future__ import annotations

import os

from . import gocompat, image
from .config import HookConfig
from .plan import GlobalOptions, Plan
from .spec import Spec
from .state import HookState
from .values import REQUIRED, Factory, Value


class Decision(Value):
    """What the container asks for, after the privilege and acceptance rules.

    ``devices`` is None for a non-GPU container (the hook is a no-op), and
    ``ignored`` then says why a GPU request was not honoured ("" when there was none).
    ``reasons`` is a list of ``(topic, text)`` pairs for ``explain``;
    ``warnings`` are the logrus warnings the reference prints.
    """

    privileged: bool
    legacy: bool
    devices: tuple[str, ...] | None
    ignored: str
    device_variables: tuple[str, ...]
    mig_config: str
    mig_monitor: str
    imex_channels: tuple[str, ...]
    capabilities: tuple[str, ...]
    requirements: tuple[str, ...]
    warnings: list[str]
    reasons: list[tuple[str, str]]
    sink: object  # callable(str) that prints a warning as soon as it is raised
    _defaults = {
        "privileged": REQUIRED,
        "legacy": REQUIRED,
        "devices": None,
        "ignored": "",
        "device_variables": (),
        "mig_config": "",
        "mig_monitor": "",
        "imex_channels": (),
        "capabilities": (),
        "requirements": (),
        "warnings": Factory(list),
        "reasons": Factory(list),
        "sink": None,
    }
    __slots__ = tuple(_defaults)

    @property
    def is_gpu(self) -> bool:
        return self.devices is not None

    def warn(self, message: str) -> None:
        self.warnings.append(message)
        if self.sink is not None:
            self.sink(message)

    def why(self, topic: str, text: str) -> None:
        self.reasons.append((topic, text))


def decide(config: HookConfig, spec: Spec, *, warn=None) -> Decision:
    """Evaluate the container's request in the reference's order (hook.md §2.3 steps 5-8).

    ``warn`` (a callable) receives each warning when it is raised, so that
    warnings preceding a fatal error are still shown.  Raises :class:`~hook.errors.SpecError` (capabilities) and
    :class:`~hook.errors.ImageError` (environment, CDI names, MIG, capabilities,
    requirements).
    """
    privileged = spec.privileged
    env = image.env_map(spec.env, config.disable_require)
    legacy = image.is_legacy(env)
    d = Decision(privileged=privileged, legacy=legacy, sink=warn)
    d.why("privileged", "yes: CAP_SYS_ADMIN is in the bounding set" if privileged
          else "no: CAP_SYS_ADMIN is not in the capability set")
    if legacy:
        d.why("legacy", f"yes: CUDA_VERSION={env[image.CUDA_VERSION]!r} and NVIDIA_REQUIRE_CUDA is unset or empty")

    mounts = image.MountRequests()
    if config.accept_volume_mounts:
        mounts = image.mount_requests(spec.mounts)
        for message in mounts.warnings:
            d.warn(message)
    _select_devices(d, config, env, mounts)
    if d.devices is None:
        return d

    d.mig_config, d.mig_monitor = image.mig_settings(env, privileged)
    if d.mig_config:
        d.why("mig", f"--mig-config from NVIDIA_MIG_CONFIG_DEVICES={d.mig_config!r} (privileged container)")
    if d.mig_monitor:
        d.why("mig", f"--mig-monitor from NVIDIA_MIG_MONITOR_DEVICES={d.mig_monitor!r} (privileged container)")

    d.capabilities = image.driver_capabilities(env, legacy, config.supported_caps)
    d.why("capabilities", _caps_reason(env, legacy, config))

    d.requirements = image.requirements(env, legacy)
    d.why("requirements", _requirements_reason(env, legacy, config, d.requirements))

    _select_imex(d, config, env, mounts)
    return d


def _select_devices(d: Decision, config: HookConfig, env: dict[str, str], mounts: image.MountRequests) -> None:
    if mounts.devices:
        d.devices = mounts.devices
        d.why("devices", f"from volume mounts under {image.DEVICES_ROOT} "
                         "(accept-nvidia-visible-devices-as-volume-mounts = true); environment variables ignored")
        return
    names = image.device_variables(env, config.swarm_resource)
    d.device_variables = tuple(names)
    ids = image.devices_from_env(env, names, d.legacy)
    source = ", ".join(f"{n}={env[n]!r}" for n in names if n in env) or \
        f"{names[0]} unset"
    if ids is None:
        d.why("devices", f"none requested ({source}): not a GPU container, the hook does nothing")
        return
    if not d.privileged and not config.accept_envvar_unprivileged:
        d.warn("Ignoring devices requested by environment variable(s) in unprivileged container: "
                          f"[{' '.join(names)}]")
        d.ignored = ("the container is unprivileged and accept-nvidia-visible-devices-envvar-when-unprivileged "
                     "= false")
        d.why("devices", f"request by environment ({source}) ignored: {d.ignored}")
        return
    d.devices = tuple(ids)
    if ids == ["all"] and not any(n in env for n in names):
        d.why("devices", f"all: legacy CUDA image with {names[0]} unset")
    elif ids == [""]:
        d.why("devices", f"'none' ({source}): driver files only, no device")
    else:
        extra = "" if d.privileged else " (unprivileged, accepted: accept-nvidia-visible-devices-envvar-when-unprivileged = true)"
        d.why("devices", f"from {source}{extra}")


def _select_imex(d: Decision, config: HookConfig, env: dict[str, str], mounts: image.MountRequests) -> None:
    if config.ignore_imex_channel_requests:
        d.why("imex", "ignored: features.ignore-imex-channel-requests = true")
        return
    if config.accept_volume_mounts and mounts.imex_channels:
        d.imex_channels = mounts.imex_channels
        d.why("imex", f"from volume mounts under {image.DEVICES_ROOT}/imex")
        return
    ids = image.imex_from_env(env, d.legacy)
    if ids is None:
        if image.IMEX_CHANNELS in env:
            d.why("imex", f"none: NVIDIA_IMEX_CHANNELS={env[image.IMEX_CHANNELS]!r} requests no channel "
                          "('all' is not honoured for IMEX)")
        return
    if d.privileged or config.accept_envvar_unprivileged:
        d.imex_channels = tuple(ids)
        d.why("imex", f"from NVIDIA_IMEX_CHANNELS={env[image.IMEX_CHANNELS]!r}")
        return
    d.warn("Ignoring request by environment variable(s) in unprivileged container: [NVIDIA_IMEX_CHANNELS]")
    d.why("imex", "NVIDIA_IMEX_CHANNELS ignored: unprivileged container and "
                  "accept-nvidia-visible-devices-envvar-when-unprivileged = false")


def _caps_reason(env: dict[str, str], legacy: bool, config: HookConfig) -> str:
    supported = f"supported-driver-capabilities = {config.supported_driver_capabilities!r}"
    if image.DRIVER_CAPABILITIES not in env:
        base = "all supported (legacy image, NVIDIA_DRIVER_CAPABILITIES unset)" if legacy \
            else "default compute,utility (NVIDIA_DRIVER_CAPABILITIES unset)"
    elif env[image.DRIVER_CAPABILITIES] == "":
        base = "default compute,utility (NVIDIA_DRIVER_CAPABILITIES is empty)"
    else:
        base = f"from NVIDIA_DRIVER_CAPABILITIES={env[image.DRIVER_CAPABILITIES]!r}"
    return f"{base}, limited by {supported}"


def _requirements_reason(env, legacy, config, reqs) -> str:
    if image.requirements_disabled(env):
        if config.disable_require:
            return "none: disable-require = true in the hook config"
        return f"none: NVIDIA_DISABLE_REQUIRE={env[image.DISABLE_REQUIRE]!r}"
    if not reqs:
        return "none: no NVIDIA_REQUIRE_* variable"
    parts = ["NVIDIA_REQUIRE_* values in environment order (NVIDIA_REQUIRE_JETPACK* excluded)"]
    if legacy:
        parts.append(f"cuda>= from CUDA_VERSION={env[image.CUDA_VERSION]!r} (legacy image) last")
    return "; ".join(parts)


# --- host-dependent parts of the plan ----------------------------------------

class Host:
    """The host facts a plan depends on; tests substitute their own."""

    def exists(self, path: str) -> bool:
        try:
            os.stat(path)
            return True
        except (OSError, ValueError):
            return False

    def default_user(self) -> str:
        from .config import default_user
        return default_user()

    def abspath(self, path: str) -> str:
        return gocompat.abspath(path)


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


def cuda_compat_mode(config: HookConfig) -> str | None:
    """hook.md §7.3."""
    mode = config.cuda_compat_mode
    if mode in ("ldconfig", "mount", "disabled"):
        return mode
    if mode == "hook":
        return "disabled"
    return None if config.allow_cuda_compat_libs_from_container else "disabled"


def build_plan(d: Decision, config: HookConfig, spec: Spec, state: HookState, *,
               debug_flag: bool, host: Host | None = None) -> Plan:
    """The plan for a GPU decision.  Raises OSError if the working directory is gone."""
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
    assert d.devices is not None
    return Plan(
        options=options,
        cuda_compat_mode=cuda_compat_mode(config),
        ldconfig=normalise_ldconfig(config.cli_ldconfig, host),
        no_cgroups=config.cli_no_cgroups,
        devices=d.devices,
        mig_config=d.mig_config,
        mig_monitor=d.mig_monitor,
        imex_channels=d.imex_channels,
        capabilities=d.capabilities,
        requirements=d.requirements,
        pid=state.cli_pid,
        rootfs=host.abspath(spec.root_path),
    )
