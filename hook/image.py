"""The CUDA image model: what the container's environment and mounts ask for (hook.md §4-§5).

Pure functions over plain values; nothing here reads files or the process
environment.  Errors are :class:`~hook.errors.ImageError`.
"""

from __future__ import annotations

from . import cdi, errors, gocompat, version
from .values import Value

VISIBLE_DEVICES = "NVIDIA_VISIBLE_DEVICES"
DRIVER_CAPABILITIES = "NVIDIA_DRIVER_CAPABILITIES"
DISABLE_REQUIRE = "NVIDIA_DISABLE_REQUIRE"
REQUIRE_CUDA = "NVIDIA_REQUIRE_CUDA"
REQUIRE_PREFIX = "NVIDIA_REQUIRE_"
JETPACK_PREFIX = "NVIDIA_REQUIRE_JETPACK"
CUDA_VERSION = "CUDA_VERSION"
MIG_CONFIG = "NVIDIA_MIG_CONFIG_DEVICES"
MIG_MONITOR = "NVIDIA_MIG_MONITOR_DEVICES"
IMEX_CHANNELS = "NVIDIA_IMEX_CHANNELS"
DEVICES_ROOT = "/var/run/nvidia-container-devices"
DEFAULT_CAPS = frozenset(("compute", "utility"))


def env_map(entries: tuple[str, ...] | list[str], disable_require: bool = False) -> dict[str, str]:
    """Build the container's environment map (hook.md §4.1): split at the first ``=``, last wins.

    Raises :class:`ImageError` ("invalid environment variable: ENTRY") for an entry without ``=``.
    """
    env: dict[str, str] = {}
    for entry in entries:
        name, sep, value = entry.partition("=")
        if not sep:
            raise errors.ImageError(f"invalid environment variable: {entry}")
        env[name] = value
    if disable_require:
        env[DISABLE_REQUIRE] = "true"
    return env


def is_legacy(env: dict[str, str]) -> bool:
    """A legacy CUDA image: ``CUDA_VERSION`` non-empty and ``NVIDIA_REQUIRE_CUDA`` unset or empty."""
    return bool(env.get(CUDA_VERSION)) and not env.get(REQUIRE_CUDA)


def device_variables(env: dict[str, str], swarm_resource: str) -> list[str]:
    """The variables that select devices (hook.md §4.4): set swarm names, else NVIDIA_VISIBLE_DEVICES."""
    preferred = [n for n in gocompat.split_list(swarm_resource) if n in env]
    return preferred or [VISIBLE_DEVICES]


def _unique(tokens: list[str]) -> list[str]:
    # Deviation from the reference (docs/compatibility.md): each id once, first-seen order.
    return list(dict.fromkeys(tokens))


def devices_from_env(env: dict[str, str], names: list[str], legacy: bool) -> list[str] | None:
    """The id list requested through ``names`` (hook.md §4.3); None means "no request".

    ``["all"]`` for ``all``; ``[""]`` for ``none`` (a request with no device).
    """
    is_set = any(n in env for n in names)
    tokens: list[str] = []
    for n in names:
        if n in env:
            tokens.extend(gocompat.split_list(env[n]))
    if not is_set and not tokens and legacy:
        tokens = ["all"]
    if not tokens or "void" in tokens:
        return None
    for t in tokens:
        if t == "all":
            return ["all"]
        if t == "none":
            return [""]
    return _unique(tokens)


class MountRequests(Value, frozen=True):
    """Device and IMEX requests made by ``/dev/null`` mounts under DEVICES_ROOT (hook.md §5)."""

    devices: tuple[str, ...] = ()
    imex_channels: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


def mount_requests(mounts) -> MountRequests:
    """Extract and classify volume-mount requests from spec mounts.

    Raises :class:`~hook.errors.CdiNameError` for a ``cdi/`` name the reference crashes on.
    """
    seen: set[str] = set()
    devices: list[str] = []
    imex: list[str] = []
    warnings: list[str] = []
    for m in mounts:
        if gocompat.clean(m.source) != "/dev/null":
            continue
        dest = gocompat.clean(m.destination)
        if dest in seen:
            continue
        seen.add(dest)
        if not dest.startswith(DEVICES_ROOT):
            continue
        name = dest[len(DEVICES_ROOT):].strip("/")
        if not name:
            continue
        if name.startswith("imex/"):
            imex.append(name[len("imex/"):])
        elif name.startswith("cdi/"):
            rest = name[len("cdi/"):]
            if cdi.is_qualified(rest):
                devices.append(rest)
                continue
            parts = rest.split("/", 2)
            if len(parts) == 3:
                devices.append(f"{parts[0]}/{parts[1]}={parts[2]}")
            else:
                warnings.append(f"Ignoring invalid mount request for CDI device cdi/{rest}: "
                                f"invalid mount CDI device request: cdi/{rest}")
        else:
            devices.append(name)
    return MountRequests(tuple(devices), tuple(imex), tuple(warnings))


def driver_capabilities(env: dict[str, str], legacy: bool, supported: frozenset[str],
                        why=None) -> tuple[str, ...]:
    """The capabilities to mount, sorted (hook.md §4.5); ``why(text)`` hears where they come from
    (None: no reason is built).

    Raises :class:`ImageError` ("unsupported capabilities found in 'E' (allowed 'S∩E')").
    """
    if DRIVER_CAPABILITIES not in env:
        if legacy:
            if why:
                why("all supported (legacy image, NVIDIA_DRIVER_CAPABILITIES unset)")
            chosen = supported
        else:
            if why:
                why("default compute,utility (NVIDIA_DRIVER_CAPABILITIES unset)")
            chosen = supported & DEFAULT_CAPS
    else:
        value = env[DRIVER_CAPABILITIES]
        if value == "":
            if why:
                why("default compute,utility (NVIDIA_DRIVER_CAPABILITIES is empty)")
            chosen = supported & DEFAULT_CAPS
        else:
            if why:
                why(f"from NVIDIA_DRIVER_CAPABILITIES={value!r}")
            requested = set(gocompat.split_list(value))
            if "all" in requested:
                chosen = supported
            else:
                chosen = supported & requested
                if len(chosen) != len(requested):
                    raise errors.ImageError(
                        f"unsupported capabilities found in '{','.join(sorted(requested))}' "
                        f"(allowed '{','.join(sorted(chosen))}')")
    return tuple(sorted(chosen))


def requirements_disabled(env: dict[str, str]) -> bool:
    """``NVIDIA_DISABLE_REQUIRE`` set to a Go boolean true."""
    value = env.get(DISABLE_REQUIRE)
    return value is not None and gocompat.parse_bool(value) is True


def requirements(env: dict[str, str], legacy: bool, why=None) -> tuple[str, ...]:
    """The ``--require`` values (hook.md §4.6), in environment order, legacy ``cuda>=X.Y`` last;
    ``why(text)`` hears where they come from (None: no reason is built).

    Raises :class:`ImageError` for an unparsable legacy ``CUDA_VERSION``.
    """
    if requirements_disabled(env):
        if why:
            why(f"none: NVIDIA_DISABLE_REQUIRE={env[DISABLE_REQUIRE]!r}")
        return ()
    reqs = [v for k, v in env.items() if k.startswith(REQUIRE_PREFIX) and not k.startswith(JETPACK_PREFIX)]
    if legacy:
        reqs.append("cuda>=" + cuda_major_minor(env[CUDA_VERSION]))
    if why:
        if legacy:
            why("NVIDIA_REQUIRE_* values in environment order (NVIDIA_REQUIRE_JETPACK* excluded); "
                f"cuda>= from CUDA_VERSION={env[CUDA_VERSION]!r} (legacy image) last")
        elif reqs:
            why("NVIDIA_REQUIRE_* values in environment order (NVIDIA_REQUIRE_JETPACK* excluded)")
        else:
            why("none: no NVIDIA_REQUIRE_* variable")
    return tuple(reqs)


def cuda_major_minor(value: str) -> str:
    """``MAJOR.MINOR`` of a CUDA_VERSION; raises :class:`ImageError`."""
    prefix = f"failed to get requirements failed to get version: invalid CUDA version {value}: "
    try:
        v = version.parse_version(value)
    except version.VersionError as exc:
        raise errors.ImageError(prefix + f"invalid version string: {exc}") from None
    if v.major > 0xFFFFFFFF:
        raise errors.ImageError(prefix + "invalid major version")
    if v.minor > 0xFFFFFFFF:
        raise errors.ImageError(prefix + "invalid minor version")
    return f"{v.major}.{v.minor}"


def mig_settings(env: dict[str, str], privileged: bool) -> tuple[str, str]:
    """``(mig_config, mig_monitor)`` verbatim (hook.md §4.7).

    Raises :class:`ImageError` when either is set in an unprivileged container.
    """
    config = env.get(MIG_CONFIG, "")
    monitor = env.get(MIG_MONITOR, "")
    if config and not privileged:
        raise errors.ImageError("cannot set MIG_CONFIG_DEVICES in non privileged container")
    if monitor and not privileged:
        raise errors.ImageError("cannot set MIG_MONITOR_DEVICES in non privileged container")
    return config, monitor


def imex_from_env(env: dict[str, str], legacy: bool) -> list[str] | None:
    """IMEX channels from ``NVIDIA_IMEX_CHANNELS`` (hook.md §4.8 step 2): ``all`` is ignored."""
    ids = devices_from_env(env, [IMEX_CHANNELS], legacy)
    if ids == ["all"]:
        return None
    return ids
