"""From (config, spec) to a :class:`Decision`: what the container asks for, and why.

:func:`decide` applies the privilege/acceptance table (hook.md §6) and the
image model (:mod:`hook.image`); given a ``why`` callback it tells, for every
decision, the reason (which variable, mount or config key decided it), as told
by the function that decided.  Without one (``prestart``, the runtime shim) no
reason is built: each is formatted behind an ``if why:`` in the one copy of the
branches.  The hook's pipeline (:mod:`hook.pipeline`, so ``prestart`` and
``explain``) and the runtime shim use it, so what ``explain`` prints is what
``prestart`` does.  :func:`hook.plan.build_plan` turns a GPU decision into a plan.
"""

from __future__ import annotations

from . import image
from .config import HookConfig
from .spec import Spec
from .values import Value


class Decision(Value):
    """What the container asks for, after the privilege and acceptance rules.

    ``devices`` is None for a non-GPU container (the hook is a no-op), and
    ``ignored`` then says why a GPU request was not honoured ("" when there was none).
    """

    privileged: bool
    legacy: bool
    devices: tuple[str, ...] | None = None
    ignored: str = ""
    mig_config: str = ""
    mig_monitor: str = ""
    imex_channels: tuple[str, ...] = ()
    capabilities: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()

    @property
    def is_gpu(self) -> bool:
        return self.devices is not None


def _unheard(message: str) -> None:
    """The ``warn`` of a caller that does not print warnings."""


def decide(config: HookConfig, spec: Spec, *, warn=None, why=None) -> Decision:
    """Evaluate the container's request in the reference's order (hook.md §2.3 steps 5-8).

    ``warn`` (a callable) receives each warning when it is raised, so that
    warnings preceding a fatal error are still shown.  ``why(topic, text)`` hears the reason of
    each decision (``explain``); None: no reason is built.  Raises :class:`~hook.errors.SpecError`
    (capabilities) and :class:`~hook.errors.ImageError` (environment, CDI names, MIG, capabilities,
    requirements).
    """
    privileged = spec.privileged
    env = image.env_map(spec.env, config.disable_require)
    legacy = image.is_legacy(env)
    warn = warn or _unheard
    d = Decision(privileged=privileged, legacy=legacy)
    if why:
        why("privileged", "yes: CAP_SYS_ADMIN is in the bounding set" if privileged
            else "no: CAP_SYS_ADMIN is not in the capability set")
        if legacy:
            why("legacy", f"yes: CUDA_VERSION={env[image.CUDA_VERSION]!r} and NVIDIA_REQUIRE_CUDA is unset or empty")

    mounts = image.MountRequests()
    if config.accept_volume_mounts:
        mounts = image.mount_requests(spec.mounts)
        for message in mounts.warnings:
            warn(message)
    _select_devices(d, config, env, mounts, warn, why)
    if d.devices is None:
        return d

    d.mig_config, d.mig_monitor = image.mig_settings(env, privileged)
    if why and d.mig_config:
        why("mig", f"--mig-config from NVIDIA_MIG_CONFIG_DEVICES={d.mig_config!r} (privileged container)")
    if why and d.mig_monitor:
        why("mig", f"--mig-monitor from NVIDIA_MIG_MONITOR_DEVICES={d.mig_monitor!r} (privileged container)")

    d.capabilities = image.driver_capabilities(env, legacy, config.supported_caps, why=why and (
        lambda text: why("capabilities", f"{text}, limited by supported-driver-capabilities = "
                                         f"{config.supported_driver_capabilities!r}")))

    # env_map() set NVIDIA_DISABLE_REQUIRE for disable-require = true: say so instead of the variable.
    d.requirements = image.requirements(env, legacy, why=why and (
        (lambda text: why("requirements", "none: disable-require = true in the hook config"))
        if config.disable_require else (lambda text: why("requirements", text))))

    _select_imex(d, config, env, mounts, warn, why)
    return d


def _select_devices(d: Decision, config: HookConfig, env: dict[str, str], mounts: image.MountRequests,
                    warn, why) -> None:
    if mounts.devices:
        d.devices = mounts.devices
        if why:
            why("devices", f"from volume mounts under {image.DEVICES_ROOT} "
                           "(accept-nvidia-visible-devices-as-volume-mounts = true); environment variables ignored")
        return
    names = image.device_variables(env, config.swarm_resource)
    ids = image.devices_from_env(env, names, d.legacy)
    source = (", ".join(f"{n}={env[n]!r}" for n in names if n in env) or f"{names[0]} unset") if why else ""
    if ids is None:
        if why:
            why("devices", f"none requested ({source}): not a GPU container, the hook does nothing")
        return
    if not d.privileged and not config.accept_envvar_unprivileged:
        warn("Ignoring devices requested by environment variable(s) in unprivileged container: "
               f"[{' '.join(names)}]")
        d.ignored = ("the container is unprivileged and accept-nvidia-visible-devices-envvar-when-unprivileged "
                     "= false")
        if why:
            why("devices", f"request by environment ({source}) ignored: {d.ignored}")
        return
    d.devices = tuple(ids)
    if not why:
        return
    if ids == ["all"] and not any(n in env for n in names):
        why("devices", f"all: legacy CUDA image with {names[0]} unset")
    elif ids == [""]:
        why("devices", f"'none' ({source}): driver files only, no device")
    else:
        extra = "" if d.privileged else " (unprivileged, accepted: accept-nvidia-visible-devices-envvar-when-unprivileged = true)"
        why("devices", f"from {source}{extra}")


def _select_imex(d: Decision, config: HookConfig, env: dict[str, str], mounts: image.MountRequests,
                 warn, why) -> None:
    if config.ignore_imex_channel_requests:
        if why:
            why("imex", "ignored: features.ignore-imex-channel-requests = true")
        return
    if config.accept_volume_mounts and mounts.imex_channels:
        d.imex_channels = mounts.imex_channels
        if why:
            why("imex", f"from volume mounts under {image.DEVICES_ROOT}/imex")
        return
    ids = image.imex_from_env(env, d.legacy)
    if ids is None:
        if why and image.IMEX_CHANNELS in env:
            why("imex", f"none: NVIDIA_IMEX_CHANNELS={env[image.IMEX_CHANNELS]!r} requests no channel "
                        "('all' is not honoured for IMEX)")
        return
    if d.privileged or config.accept_envvar_unprivileged:
        d.imex_channels = tuple(ids)
        if why:
            why("imex", f"from NVIDIA_IMEX_CHANNELS={env[image.IMEX_CHANNELS]!r}")
        return
    warn("Ignoring request by environment variable(s) in unprivileged container: [NVIDIA_IMEX_CHANNELS]")
    if why:
        why("imex", "NVIDIA_IMEX_CHANNELS ignored: unprivileged container and "
                    "accept-nvidia-visible-devices-envvar-when-unprivileged = false")
