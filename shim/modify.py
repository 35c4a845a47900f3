"""From (config, spec, mode) to the list of spec modifiers (runtime.md §8-§11).

:func:`resolve_mode` and :func:`modifiers` run on the construction pass (errors are
:class:`ConstructError`); each returned modifier is a callable ``tree -> bool`` (True when it
changed the tree) that raises :class:`ApplyError` on the application pass.
"""

from __future__ import annotations

from hook.config import HookConfig
from hook import errors as hook_errors
from hook import oslite
from hook.gojson import Obj

from . import devices as device_requests, ocispec
from . import errors

MODES = ("auto", "legacy", "cdi", "jit-cdi", "csv")
NVIDIA_HOOKS = ("nvidia-container-runtime-hook", "nvidia-container-toolkit")
AUTOMATIC_KIND = "runtime.nvidia.com/gpu"


class Context:
    """What the modifiers read: the config, the resolved tools and the log."""

    __slots__ = ("config", "log", "hook_path", "ctk_path")

    def __init__(self, config: HookConfig, log, hook_path: str, ctk_path: str) -> None:
        self.config = config
        self.log = log
        self.hook_path = hook_path
        self.ctk_path = ctk_path


def _construct(fn, *args):
    try:
        return fn(*args)
    except hook_errors.HookError as exc:  # an environment entry without '=', an invalid CDI name
        raise errors.ConstructError(f"failed to construct OCI spec modifier: {exc}") from None


def is_qualified(name: str) -> bool:
    """A fully-qualified CDI name; one-letter vendors and classes are valid CDI names (the hook
    refuses them only because the reference hook crashes on them)."""
    from hook.cdi import is_qualified as qualified

    try:
        return qualified(name)
    except hook_errors.CdiNameError:
        return True


def resolve_mode(configured: str, tree: Obj, ctx: Context, platform=None) -> str:
    """§10 (one pass; the caller runs it twice, as upstream does)."""
    if configured != "auto":
        ctx.log.info(f"Using requested mode '{configured}'")
        return configured
    devices = _construct(device_requests.requested, tree, ctx.config, ctx.config.cdi_annotation_prefixes)
    if devices and all(is_qualified(d) for d in devices):
        mode = "cdi"
    else:
        from hook.mode import Platform
        p = platform or Platform()
        mode = "csv" if (p.has_tegra_files() and not p.has_nvml()) or p.has_integrated_gpu() else "jit-cdi"
    ctx.log.info(f"Auto-detected mode as '{mode}'")
    return mode


def modifiers(mode: str, tree: Obj, ctx: Context) -> list:
    """The modifiers of ``mode`` for the spec ``tree``.  Raises :class:`ConstructError`."""
    from hook.gocompat import quote as go_quote

    prefixes = ctx.config.cdi_annotation_prefixes if mode == "cdi" else ()
    devices = _construct(device_requests.requested, tree, ctx.config, prefixes)
    if mode == "legacy":
        return _legacy(tree, devices, ctx)
    if mode in ("cdi", "jit-cdi"):
        return [remove_nvidia_hooks, *_cdi(mode, devices, tree, ctx)]
    if mode == "csv":
        return [remove_nvidia_hooks, *_csv(tree, devices, ctx)]
    if mode == "":
        raise errors.ConstructError("failed to construct OCI spec modifier: a mode must be specified")
    raise errors.ConstructError(f"failed to construct OCI spec modifier: invalid mode {go_quote(mode)}")


# --- legacy --------------------------------------------------------------------------------------

def _legacy(tree: Obj, devices: list[str], ctx: Context) -> list:
    mods = []
    if devices:
        mods += _feature_gated(tree, ctx)
        cfg = ctx.config
        if cfg.cuda_compat_mode == "hook" and not cfg.disable_cuda_compat_lib_hook:
            mods.append(lambda t: _cuda_compat(t, ctx))
        if _wants_graphics(device_requests.env_map(tree)):
            mods.append(lambda t: _graphics(t, ctx))
        else:
            ctx.log.info("No graphics modifier required; no required capabilities requested")
    else:
        ctx.log.info("No graphics modifier required; no devices requested")
    wanted = hook_would_act(tree, ctx.config)  # on the spec as the engine wrote it
    mods.append(lambda t: add_prestart_hook(t, ctx, wanted))
    return mods


def add_prestart_hook(tree: Obj, ctx: Context, wanted: bool = True) -> bool:
    """§8.2 with §14.3: append the prestart hook unless one is there, and only when ``wanted``: the
    hook's own decision treats the container as a GPU container (or would reject it)."""
    hooks = ocispec.member(tree, "hooks")
    for h in (ocispec.member(hooks, "prestart") or []) if isinstance(hooks, Obj) else []:
        path = ocispec.member(h, "path") if isinstance(h, Obj) else None
        if isinstance(path, str) and oslite.basename(path) in NVIDIA_HOOKS:
            ctx.log.info(f"Existing nvidia prestart hook ({path}) found in OCI spec")
            return False
    ctx.log.info(f"Using prestart hook path: {ctx.hook_path}")
    if not wanted:
        ctx.log.info("Not adding the prestart hook: the hook's decision finds no GPU request in this container")
        return False
    entry = Obj([("path", ctx.hook_path), ("args", [oslite.basename(ctx.hook_path), "prestart"])])
    ocispec.array(ocispec.child(tree, "hooks"), "prestart").append(entry)
    return True


def hook_would_act(tree: Obj, config: HookConfig) -> bool:
    """True unless the hook's decision (hook.decide.decide, the same config) is a clean "no GPU"."""
    from hook.config import validate_supported
    from hook.decide import decide
    from hook.spec import parse_value

    from hook.config import INJECTORS

    if config.injector not in INJECTORS:
        return True
    try:
        validate_supported(config.replace())
        return decide(config, parse_value(tree)).is_gpu
    except hook_errors.HookError:
        return True


def _wants_graphics(env: dict[str, str]) -> bool:
    """§8.4: ``NVIDIA_DRIVER_CAPABILITIES`` lists ``graphics``, ``display`` or ``all`` (split on ``,``
    as upstream does, untrimmed; unset means no graphics, also for legacy CUDA images)."""
    from hook import image

    caps = set(env.get(image.DRIVER_CAPABILITIES, "").split(","))
    return bool(caps & {"graphics", "display", "all"})


def _driver_version(ctx: Context, what: str) -> str:
    from .host import DriverRoot
    try:
        return DriverRoot(ctx.config.cli_root).driver_version()
    except LookupError as exc:
        raise errors.ApplyError(f"error modifying OCI spec: {what}: failed to get driver version: {exc}") from None


def _cuda_compat(tree: Obj, ctx: Context) -> bool:
    version = _driver_version(ctx, "failed to construct CUDA Compat discoverer")
    from .cdispec import Edits, apply
    apply(tree, [Edits({"hooks": [{"hookName": "createContainer", "path": ctx.ctk_path,
                                   "args": ["nvidia-ctk", "hook", "enable-cuda-compat",
                                            f"--host-driver-version={version}"],
                                   "env": ["NVIDIA_CTK_DEBUG=false"]}]})])
    return True


def _graphics(tree: Obj, ctx: Context) -> bool:
    from .host import DriverRoot

    version = _driver_version(ctx, "failed to create mounts discoverer: "
                                   "failed to construct discoverer for graphics libraries")
    root = DriverRoot(ctx.config.cli_root)
    files = root.graphics_files(version)
    if not files:
        return False
    from .cdispec import Edits
    mounts = [{"hostPath": root.path(p), "containerPath": p, "options": ["ro", "nosuid", "nodev", "bind"]}
              for p in files]
    _apply(tree, [Edits({"mounts": mounts})])
    return True


def _feature_gated(tree: Obj, ctx: Context) -> list:
    """§8.4: NVIDIA_GDS/MOFED/GDRCOPY/NVSWITCH=enabled bring their host device nodes."""
    from .host import FEATURE_DEVICES

    env = device_requests.env_map(tree)
    features = [f for f in FEATURE_DEVICES if env.get(f) == "enabled"]
    if not features:
        return []

    def modify(t: Obj) -> bool:
        from .cdispec import Edits
        from .host import DriverRoot

        root = DriverRoot(ctx.config.cli_root)
        nodes = [{"path": p, "hostPath": root.path(p)} for f in features for p in root.feature_devices(f)]
        _apply(t, [Edits({"env": ["NVIDIA_VISIBLE_DEVICES=void"], "deviceNodes": nodes})])
        return True
    return [modify]


def _apply(tree: Obj, edits, context: str = "") -> None:
    from . import cdispec

    try:
        cdispec.apply(tree, edits)
    except cdispec.CdiError as exc:
        raise errors.ApplyError(f"error modifying OCI spec: {context}{exc}") from None


# --- cdi, jit-cdi, csv ---------------------------------------------------------------------------

def remove_nvidia_hooks(tree: Obj) -> bool:
    """§11.1 (1): drop every prestart hook named like ours; the others keep their order."""
    hooks = ocispec.member(tree, "hooks")
    prestart = ocispec.member(hooks, "prestart") if isinstance(hooks, Obj) else None
    if not prestart:
        return False
    kept = [h for h in prestart if not (isinstance(h, Obj) and isinstance(ocispec.member(h, "path"), str)
                                        and oslite.basename(ocispec.member(h, "path")) in NVIDIA_HOOKS)]
    if len(kept) == len(prestart):
        return False
    prestart[:] = kept
    return True


def cdi_names(devices: list[str], default_kind: str) -> list[str]:
    """§11.1: ``none`` for an empty name, the default kind for unqualified ones, each name once."""
    names = []
    for d in devices:
        d = d or "none"
        if not is_qualified(d):
            d = f"{default_kind}={d}"
        names.append(d)
    return list(dict.fromkeys(names))


def _cdi(mode: str, devices: list[str], tree: Obj, ctx: Context) -> list:
    if not devices:
        return []
    kind = AUTOMATIC_KIND if mode == "jit-cdi" else ctx.config.cdi_default_kind
    names = cdi_names(devices, kind)
    automatic = [n for n in names if n.startswith(AUTOMATIC_KIND + "=")]
    if automatic and len(automatic) != len(names):
        raise errors.ConstructError("failed to construct OCI spec modifier: requesting a CDI device with vendor "
                                    "'runtime.nvidia.com' is not supported when requesting other CDI devices")
    if automatic:
        return [_jit(names, tree, ctx)]

    def inject(t: Obj) -> bool:
        from . import cdispec

        try:
            edits = cdispec.from_spec_dirs(ctx.config.cdi_spec_dirs, names, ctx.log.warning)
        except cdispec.CdiError as exc:
            raise errors.ApplyError(f"error modifying OCI spec: failed to inject CDI devices: {exc}") from None
        ctx.log.info(f"Injecting CDI devices {', '.join(names)}")
        _apply(t, edits, "failed to inject CDI devices: ")
        return True
    return [inject]


def _jit(names: list[str], tree: Obj, ctx: Context):
    """§11.1 / cdi.md §6.3: the requests are read now (construction), the specs generated at
    application; the generator (and NVML) is imported only here."""
    from . import jitcdi

    env = _construct(device_requests.env_map, tree)
    imex = _construct(jitcdi.imex_channels, tree, ctx.config, device_requests.privileged(tree))
    reqs = jitcdi.requests(names, env, imex)

    def jit(t: Obj) -> bool:
        try:
            edits = jitcdi.edits(reqs, ctx.config, ctx.ctk_path, env, ctx.log)
        except jitcdi.JitError as exc:
            raise errors.ApplyError(f"error modifying OCI spec: {exc}") from None
        ctx.log.info(f"Injecting CDI devices {', '.join(names)}")
        _apply(t, edits, "failed to inject CDI devices: ")
        return True
    return jit


def _csv(tree: Obj, devices: list[str], ctx: Context) -> list:
    mods = _feature_gated(tree, ctx) if devices else []
    if not devices:
        return mods

    def csv(t: Obj) -> bool:
        from .cdispec import Edits
        path = ctx.config.csv_mount_spec_path
        try:
            files = [n for n in oslite.listdir(path) if n.endswith(".csv")]
        except OSError:
            files = []
        if files:
            raise errors.ApplyError(f"error modifying OCI spec: csv mode with mount specifications ({path}) is not "
                                    "supported by this implementation yet (docs/runtime-shim.md)")
        _apply(t, [Edits({"env": ["NVIDIA_VISIBLE_DEVICES=void"]})])
        return True
    return mods + [csv]
