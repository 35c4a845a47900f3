"""The jit-cdi modifier (cdi.md §6.3, runtime.md §11.1): CDI specs generated in memory at
``create`` for the requested ``runtime.nvidia.com/gpu=…`` devices, with the generator of
``nvidia-ctk cdi generate`` (:func:`cdi.generate.generate`), then applied as spec edits.

:func:`requests` is pure (names and the image → generator requests); :func:`edits` runs the
generator (driver files, NVML through cffi) and is imported only when a GPU is requested in
jit-cdi mode.
"""

from __future__ import annotations

from hook import image, oslite
from hook.config import HookConfig
from hook.values import Value, lazy_exception

from .cdispec import Edits

__all__ = ["KIND", "Request", "JitError", "requests", "edits"]

KIND = "runtime.nvidia.com/gpu"
FEATURE_MODES = (("NVIDIA_GDS", "gds"), ("NVIDIA_MOFED", "mofed"), ("NVIDIA_GDRCOPY", "gdrcopy"),
                 ("NVIDIA_NVSWITCH", "nvswitch"))
CSV_BASE = ("devices", "drivers", "l4t")
NO_NVML = "failed to construct device spec generators: failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND"


__getattr__ = lazy_exception(globals(), "JitError", ValueError,
                             "A spec could not be generated; ``str()`` is the message after "
                             "``error modifying OCI spec: ``.")


class Request(Value, frozen=True):
    """One generator run: a discovery mode and the device ids it is asked for (``()`` = all)."""

    mode: str
    ids: tuple[str, ...] = ()


def _parse(name: str) -> tuple[str, str]:
    """``runtime.nvidia.com/gpu=<id>`` → ("auto", id); ``…=mode=<m>[,id=<id>]`` → (m, id)."""
    rest = name[len(KIND) + 1:]
    if not rest.startswith("mode="):
        return "auto", rest
    fields = dict(part.partition("=")[::2] for part in rest.split(","))
    return fields.get("mode", "auto"), fields.get("id", "")


def requests(names: list[str], env: dict[str, str], imex_channels: list[str]) -> list[Request]:
    """The generator runs for the qualified ``names`` (all of kind :data:`KIND`), the image's
    ``NVIDIA_GDS``/``MOFED``/``GDRCOPY``/``NVSWITCH=enabled`` and the requested IMEX channels, one
    per mode in first-seen order, each with its ids in first-seen order."""
    pairs = [_parse(n) for n in names]
    pairs += [(mode, "") for var, mode in FEATURE_MODES if env.get(var) == "enabled"]
    pairs += [("imex", c) for c in imex_channels]
    ids: dict[str, list[str]] = {}
    for mode, i in pairs:
        got = ids.setdefault(mode, [])
        if i and i not in got:
            got.append(i)
    return [Request(mode, tuple(v)) for mode, v in ids.items()]


def imex_channels(tree, config: HookConfig, privileged: bool) -> list[str]:
    """IMEX channels the container asks for (``NVIDIA_IMEX_CHANNELS``, ``imex/`` volume mounts;
    hook.md §4.8), unless ``features.ignore-imex-channel-requests``; env requests follow the same
    privilege rule as device requests."""
    from . import devices

    if config.ignore_imex_channel_requests:
        return []
    if config.accept_volume_mounts:
        found = [c for c in image.mount_requests(devices.mounts(tree)).imex_channels if c]
        if found:
            return found
    env = devices.env_map(tree)
    if not config.accept_envvar_unprivileged and not privileged:
        return []
    return [c for c in image.imex_from_env(env, image.is_legacy(env)) or [] if c]  # "none": [""]


def csv_files(config: HookConfig, env: dict[str, str], listdir) -> tuple[str, ...]:
    """The CSV files of Tegra discovery: the base ones under ``modes.csv.mount-spec-path``, or every
    ``*.csv`` there with ``NVIDIA_REQUIRE_JETPACK=csv-mounts=all`` (cdi.md §6.3)."""
    folder = config.csv_mount_spec_path.rstrip("/") or "/"
    if env.get("NVIDIA_REQUIRE_JETPACK") == "csv-mounts=all":
        try:
            names = sorted(n[:-4] for n in listdir(folder) if n.endswith(".csv"))
        except OSError:
            names = []
    else:
        names = list(CSV_BASE)
    return tuple(f"{folder}/{n}.csv" if folder != "/" else f"/{n}.csv" for n in names)


def options(req: Request, config: HookConfig, ctk_path: str, csv: tuple[str, ...] = ()):
    """The :class:`cdi.generate.Options` of one request (cdi.md §6.3)."""
    from cdi.generate import Options

    flags = tuple(config.jit_feature_flags)
    if config.no_additional_gids_for_device_nodes and "no-additional-gids-for-device-nodes" not in flags:
        flags += ("no-additional-gids-for-device-nodes",)
    return Options(mode=req.mode, driver_root=config.cli_root or "/", vendor="runtime.nvidia.com", cls="gpu",
                   strategies=("index",), no_all_device=True, device_ids=req.ids or ("all",),
                   hook_path=ctk_path, feature_flags=flags, disabled_hooks=tuple(config.jit_disable_hooks),
                   csv_files=csv,
                   csv_compat_root=config.csv_compat_container_root or "/usr/local/cuda/compat_orin")


def edits(reqs: list[Request], config: HookConfig, ctk_path: str, env: dict[str, str], log) -> list[Edits]:
    """Generate the spec of each request and return its edits: every device in spec order, then
    the common edits.  ``env`` is the container's environment.  Raises :class:`JitError`."""
    from cdi import errors as cdi_errors
    from cdi.generate import generate

    from .cdispec import from_generated

    csv = csv_files(config, env, oslite.listdir)
    out: list[Edits] = []
    for req in reqs:
        try:
            spec = generate(options(req, config, ctk_path, csv), _Log(log))[0]
        except cdi_errors.NvmlNotFoundError:
            raise __getattr__("JitError")(_failure(req.mode, NO_NVML)) from None
        except cdi_errors.CdiError as exc:
            raise __getattr__("JitError")(_failure(req.mode, str(exc))) from None
        log.info(f"Generated CDI spec for mode {req.mode!r}: devices "
                 f"{', '.join(KIND + '=' + d['name'] for d in spec['devices'])}")
        out += from_generated(spec)
    return out


def _failure(mode: str, detail: str) -> str:
    return f'failed to create the automatic CDI modifier: failed to generate CDI spec for mode "{mode}": {detail}'


class _Log:
    """``logging``-style calls (``info("fmt %s", x)``) onto the shim's logger."""

    __slots__ = ("log",)

    def __init__(self, log) -> None:
        self.log = log

    def info(self, msg: str, *args) -> None:
        self.log.info(msg % args if args else msg)

    def warning(self, msg: str, *args) -> None:
        self.log.warning(msg % args if args else msg)

    def debug(self, msg: str, *args) -> None:
        self.log.debug(msg % args if args else msg)
