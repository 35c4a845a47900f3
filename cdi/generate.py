"""``cdi generate`` as a library call: :func:`generate` (driver root + :class:`Options` → specs).

Pure of I/O except discovery (the driver root's files, NVML, a few host files the reference
reads); nothing is written here — :mod:`cdi.output` saves the result.
"""

from __future__ import annotations

from hook import oslite

from hook.gocompat import strip_root, under_root
from hook.values import Value, copy_plain

from . import discover, errors, spec as S
from .pathmatch import glob_in, listing_each_folder_once

__all__ = ["Options", "generate", "MODES", "STRATEGIES", "HOOK_NAMES", "hook_selection"]

MODES = ("auto", "csv", "gdrcopy", "gds", "imex", "management", "mofed", "nvml", "nvswitch", "wsl")
STRATEGIES = ("index", "uuid", "type-index")
HOOK_NAMES = ("update-ldcache", "create-symlinks", "chmod", "enable-cuda-compat",
              "disable-device-node-modification", "update-application-profile")
MIG_MINORS = "/proc/driver/nvidia-caps/mig-minors"


class Options(Value, frozen=True):
    """What to generate; every field has the reference's default (``dev_root`` "" = the driver root)."""

    mode: str = "auto"
    driver_root: str = "/"
    dev_root: str = ""
    strategies: tuple[str, ...] = ("index", "uuid")
    device_ids: tuple[str, ...] = ("all",)
    no_all_device: bool = False
    vendor: str = "nvidia.com"
    cls: str = "gpu"
    hook_path: str = "/usr/bin/nvidia-cdi-hook"
    ldconfig_path: str = ""
    disabled_hooks: tuple[str, ...] = ()
    enabled_hooks: tuple[str, ...] = ()
    feature_flags: tuple[str, ...] = ()
    config_search_paths: tuple[str, ...] = ()
    library_search_paths: tuple[str, ...] = ()
    csv_files: tuple[str, ...] = ()
    csv_ignore_patterns: tuple[str, ...] = ()
    csv_compat_root: str = "/usr/local/cuda/compat_orin"

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if not self.dev_root:
            object.__setattr__(self, "dev_root", self.driver_root)


def hook_selection(disabled: tuple[str, ...], enabled: tuple[str, ...]) -> frozenset[str]:
    """The hooks to emit (2.5)."""
    if "all" in disabled and not enabled:
        return frozenset()
    off = set(disabled) | {"chmod"}
    if "all" in off:
        off |= set(HOOK_NAMES)
    return frozenset(h for h in HOOK_NAMES if h not in off or h in enabled)


class _Hooks:
    def __init__(self, opts: Options) -> None:
        self.path = opts.hook_path
        base = oslite.basename(self.path)
        self.prefix = [base, "hook"] if base == "nvidia-ctk" else [base]
        self.enabled = hook_selection(opts.disabled_hooks, opts.enabled_hooks)

    def make(self, name: str, *args: str) -> list[dict]:
        if name not in self.enabled:
            return []
        return [{"hookName": "createContainer", "path": self.path, "args": self.prefix + [name, *args],
                 "env": ["NVIDIA_CTK_DEBUG=false"]}]

    def links(self, links: list[str]) -> list[dict]:
        if not links:
            return []
        args: list[str] = []
        for link in links:
            args += ["--link", link]
        return self.make("create-symlinks", *args)


# ----------------------------------------------------------------------------- common edits

def _driver_edits(opts: Options, version: str, hooks: _Hooks, log, management: bool) -> dict:
    root = opts.driver_root
    flags = set(opts.feature_flags)
    edits: dict = {"env": [], "deviceNodes": [], "hooks": [], "mounts": []}
    edits["deviceNodes"] = discover.control_nodes(opts.dev_root, log) if not management else []
    d = discover.Discovery()
    if not management:
        discover.graphics(root, version, log, d, opts.config_search_paths, opts.library_search_paths)
        edits["mounts"] += d.mounts
        edits["hooks"] += hooks.links(d.graphics_links)
        d.mounts = []
    discover.driver_libraries(root, version, log, d, "enable-explicit-driver-libraries" in flags,
                              opts.library_search_paths)
    edits["mounts"] += d.mounts
    edits["hooks"] += hooks.links(d.library_links)
    edits["hooks"] += hooks.make("enable-cuda-compat", f"--host-driver-version={version}")
    ld_args: list[str] = ["--ldconfig-path", opts.ldconfig_path] if opts.ldconfig_path else []
    for f in d.library_folders:
        ld_args += ["--folder", f]
    if d.library_folders:
        edits["hooks"] += hooks.make("update-ldcache", *ld_args)
    if not management:
        edits["hooks"] += hooks.make("disable-device-node-modification")
    if d.libcuda_dirs:
        edits["env"].append("NVIDIA_CTK_LIBCUDA_DIR=" + ":".join(d.libcuda_dirs))
    d.mounts = []
    if "disable-ipc-discoverer" not in flags:
        discover.ipc(root, log, d)
    discover.firmware(root, version, log, d)
    discover.binaries(root, log, d)
    edits["mounts"] += d.mounts
    if not management:
        edits["hooks"] += hooks.make("update-application-profile")
    return edits


# ----------------------------------------------------------------------------- devices

def _gpu_edits(opts: Options, gpu, hooks: _Hooks, log) -> dict:
    host = under_root(opts.dev_root, f"/dev/nvidia{gpu.minor}")
    log.info("Selecting %s as /dev/nvidia%d", host, gpu.minor)
    gids: list[int] = []
    nodes = [S.device_node(f"/dev/nvidia{gpu.minor}", host, gids)]
    drm = []
    try:
        drm = sorted(oslite.listdir(f"/sys/bus/pci/devices/{gpu.bus_id}/drm"))
    except OSError:
        pass
    drm_nodes = [n for n in drm if n.startswith(("card", "renderD"))]
    for n in drm_nodes:
        nodes.append(S.device_node(f"/dev/dri/{n}", under_root(opts.dev_root, f"/dev/dri/{n}"), gids))
    links = []
    for kind in ("card", "render"):
        p = under_root(opts.dev_root, f"/dev/dri/by-path/pci-{gpu.bus_id}-{kind}")
        try:
            target = oslite.realpath(p, strict=True)
        except OSError:
            log.warning("Failed to evaluate symlink %s; ignoring", p)
            continue
        if oslite.basename(target) in drm_nodes:
            links.append(f"../{oslite.basename(target)}::/dev/dri/by-path/pci-{gpu.bus_id}-{kind}")
    edits: dict = {"deviceNodes": nodes, "hooks": hooks.links(links)}
    edits["hooks"] += hooks.make("chmod", "--mode", "755", *(["--path", "/dev/dri"] if drm_nodes else []))
    if gids and "no-additional-gids-for-device-nodes" not in opts.feature_flags:
        edits["additionalGids"] = gids
    return edits


def _mig_minors() -> dict[str, int]:
    try:
        with open(MIG_MINORS) as f:
            text = f.read(1 << 20)
    except OSError:
        raise errors.GenerateError("failed to generate CDI spec: failed to create device CDI specs: failed to get CDI "
                                   "device edits: failed to create device discoverer: error getting MIG capability "
                                   "device paths: <nil>") from None
    out = {}
    for line in text.splitlines():
        name, _, minor = line.rpartition(" ")
        if name and minor.isdigit():
            out[name] = int(minor)
    return out


def _mig_edits(opts: Options, mig, minors: dict[str, int], hooks: _Hooks, log) -> dict:
    parent = mig.parent
    host = under_root(opts.dev_root, f"/dev/nvidia{parent.minor}")
    gids: list[int] = []
    nodes = [S.device_node(f"/dev/nvidia{parent.minor}", host, gids)]
    for key in (f"gpu{parent.minor}/gi{mig.gi}/access", f"gpu{parent.minor}/gi{mig.gi}/ci{mig.ci}/access"):
        if key in minors:
            p = f"/dev/nvidia-caps/nvidia-cap{minors[key]}"
            nodes.append(S.device_node(p, under_root(opts.dev_root, p), gids))
    edits: dict = {"deviceNodes": nodes}
    if gids and "no-additional-gids-for-device-nodes" not in opts.feature_flags:
        edits["additionalGids"] = gids
    return edits


def _names(strategies, gpu=None, mig=None) -> list[str]:
    out = []
    for s in strategies:
        if mig is not None:
            out.append({"index": f"{mig.parent.index}:{mig.index}", "type-index": f"mig{mig.parent.index}:{mig.index}",
                        "uuid": mig.uuid}[s])
        else:
            out.append({"index": str(gpu.index), "type-index": f"gpu{gpu.index}", "uuid": gpu.uuid}[s])
    return out


def _select(nvml, ids: tuple[str, ...]):
    """The (gpus, migs) selected by ``--device-id`` (2.4)."""
    gpus = nvml.gpus()
    if "all" in ids:
        return [g for g in gpus if not g.mig_enabled], [m for g in gpus for m in g.migs]
    sel_g, sel_m = [], []
    by_uuid = {g.uuid: g for g in gpus}
    by_uuid.update({m.uuid: m for g in gpus for m in g.migs})
    for i in ids:
        if i.startswith(("GPU-", "MIG-")) and len(i) > 4:
            obj = by_uuid.get(i)
            if obj is None:
                nvml.handle_by_uuid(i)  # raises with NVML's message
                continue
        elif i.isdigit():
            idx = int(i)
            if idx >= len(gpus):
                raise errors.GenerateError(f"failed to get device handle from index: {nvml.error_string(2)}")
            obj = gpus[idx]
        elif i.count(":") == 1 and all(p.isdigit() for p in i.split(":")):
            g, m = map(int, i.split(":"))
            if g >= len(gpus) or m >= len(gpus[g].migs):
                raise errors.GenerateError(f"failed to get device handle from index: {nvml.error_string(2)}")
            obj = gpus[g].migs[m]
        else:
            raise errors.GenerateError(f'identifier is not a valid UUID or index: "{i}"')
        if hasattr(obj, "migs"):
            if obj not in sel_g:
                sel_g.append(obj)
        elif obj not in sel_m:
            sel_m.append(obj)
    return sel_g, sel_m


# ----------------------------------------------------------------------------- specs

def _finish(kind: str, devices: list[dict], common: dict, add_all: bool) -> dict:
    spec = {"cdiVersion": S.VERSIONS[-1], "kind": kind, "devices": devices, "containerEdits": common}
    S.normalise(spec)
    if add_all and not any(d["name"] == "all" for d in devices):
        merged: dict = {}
        for d in devices:
            S.merge_edits(merged, d["containerEdits"])
        spec["devices"].append({"name": "all", "containerEdits": merged})
        S.normalise(spec)
    spec["cdiVersion"] = S.min_version(spec)
    return spec


def _simple_nodes(dev_root: str, patterns: tuple[str, ...], exclude: tuple[str, ...] = ()) -> list[dict]:
    nodes = []
    for pat in patterns:
        folder, _, base = pat.rpartition("/")
        for p in glob_in(under_root(dev_root, folder or "/"), base):
            name = oslite.basename(p)
            if any(name.startswith(e) for e in exclude):
                continue
            if not discover._is_char(p):
                continue
            cpath = strip_root(dev_root, p)
            nodes.append(S.device_node(cpath, p))
    return nodes


def generate(opts: Options, log=None) -> list[dict]:
    """The spec(s) for ``opts``: the main spec, then the coherence-split ones.

    ``log`` is anything with ``logging.Logger``'s ``info``/``warning`` (default: the ``cdi``
    logger; :mod:`logging` is imported only then).  Raises :class:`GenerateError`
    (:class:`cdi.errors.NvmlNotFoundError` when there is no NVML to load) or :class:`UsageError` for bad options.
    Each folder is listed at most once (:func:`cdi.pathmatch.listing_each_folder_once`)."""
    return listing_each_folder_once(lambda: _generate(opts, log))


def _generate(opts: Options, log) -> list[dict]:
    if log is None:
        import logging
        log = logging.getLogger("cdi")
    mode = opts.mode.lower()
    if mode not in MODES:
        raise errors.UsageError(f"invalid discovery mode: {opts.mode}")
    if mode == "auto":
        mode = _detect_mode(log)
        log.info("Auto-detected mode as '%s'", mode)
    kind = f"{opts.vendor}/{opts.cls}"
    add_all = not opts.no_all_device and "none" not in opts.device_ids
    void = {"env": ["NVIDIA_VISIBLE_DEVICES=void"]}
    if mode in ("gdrcopy", "gds", "mofed", "nvswitch"):
        return [_finish(kind, [{"name": "all", "containerEdits": _simple_mode(mode, opts)}], void, False)]
    if mode == "imex":
        return [_imex(opts, kind, void, add_all)]
    if mode == "wsl":
        raise errors.GenerateError("failed to create discoverer for WSL driver: failed to initialize dxcore: "
                                   "failed to initialize dxcore context")
    if mode == "csv":
        from .csv import generate_csv
        return generate_csv(opts, kind, log)
    from .nvml import open_nvml
    _sandboxutils(opts, log)
    nvml = open_nvml(opts.driver_root, log, opts.library_search_paths)
    try:
        hooks = _Hooks(opts)
        if mode == "management":
            version = nvml.driver_version()
            log.info("Using driver version %s", version)
            common = _driver_edits(opts, version, hooks, log, management=True)
            common["env"].append("NVIDIA_VISIBLE_DEVICES=void")
            nodes = _simple_nodes(opts.dev_root, ("/dev/nvidia*", "/dev/nvidia-caps/nvidia-cap*",
                                                  "/dev/nvidia-caps-imex-channels/channel*"),
                                  ("nvidia-fs", "nvidia-nvswitch", "nvidia-nvlink"))
            return [_finish(kind, [{"name": "all", "containerEdits": {"deviceNodes": nodes}}], common, False)]
        if "none" in opts.device_ids:
            devices = [{"name": "none", "containerEdits": {"env": ["NVCT_EMPTY_DEVICE="]}}]
            tagged: list[tuple[dict, bool]] = []
        else:
            gpus, migs = _select(nvml, opts.device_ids)
            devices, tagged = [], []
            for g in gpus:
                edits = _gpu_edits(opts, g, hooks, log)
                log.info("Selecting %s as /dev/nvidia%d", under_root(opts.dev_root, f"/dev/nvidia{g.minor}"),
                         g.minor)
                for name in _names(opts.strategies, gpu=g):
                    dev = {"name": name, "containerEdits": copy_plain(edits)}
                    devices.append(dev)
                    tagged.append((dev, g.coherent))
            minors = _mig_minors() if migs else {}
            for m in migs:
                edits = _mig_edits(opts, m, minors, hooks, log)
                for name in _names(opts.strategies, mig=m):
                    devices.append({"name": name, "containerEdits": copy_plain(edits)})
        version = nvml.driver_version()
        log.info("Using driver version %s", version)
        common = _driver_edits(opts, version, hooks, log, management=False)
        common["env"].append("NVIDIA_VISIBLE_DEVICES=void")
    finally:
        nvml.close()
    specs = [_finish(kind, devices, copy_plain(common), add_all)]
    if "enable-coherent-annotations" in opts.feature_flags:
        for suffix, want in (("coherent", True), ("noncoherent", False)):
            part = [copy_plain(d) for d, c in tagged if c == want]
            if part:
                specs.append(_finish(f"{kind}.{suffix}", part, copy_plain(common), add_all))
    return specs


def _detect_mode(log) -> str:
    if oslite.exists("/dev/dxg"):
        return "wsl"
    from hook.mode import Platform
    p = Platform()
    if p.has_tegra_files() and not p.has_nvml():
        return "csv"
    return "nvml"


def _sandboxutils(opts: Options, log) -> None:
    if "disable-nvsandboxutils" in opts.feature_flags:
        return
    from .nvml import locate_library
    if not locate_library(opts.driver_root, "libnvidia-sandboxutils.so.1", opts.library_search_paths):
        log.warning("Ignoring error in locating libnvidia-sandboxutils.so.1: libnvidia-sandboxutils.so.1: "
                    "not found\nlibnvidia-sandboxutils.so.1: not found")
        log.warning("Failed to init nvsandboxutils: ERROR_LIBRARY_LOAD; ignoring")


def _simple_mode(mode: str, opts: Options) -> dict:
    patterns = {"gdrcopy": ("/dev/gdrdrv",), "gds": ("/dev/nvidia-fs*",),
                "mofed": ("/dev/infiniband/uverbs*", "/dev/infiniband/rdma_cm"),
                "nvswitch": ("/dev/nvidia-nvswitchctl", "/dev/nvidia-nvswitch*")}[mode]
    nodes = _simple_nodes(opts.dev_root, patterns)
    edits: dict = {"deviceNodes": nodes}
    if mode == "gds":
        mounts = []
        for rel in ("/run/udev", "/etc/cufile.json"):
            p = under_root(opts.driver_root, rel)
            if oslite.exists(p):
                mounts.append(S.mount(p, rel))
        edits["mounts"] = mounts
    return edits


def _imex(opts: Options, kind: str, common: dict, add_all: bool) -> dict:
    devices = []
    for p in glob_in(under_root(opts.dev_root, "/dev/nvidia-caps-imex-channels"), "channel*"):
        n = oslite.basename(p)[len("channel"):]
        if not n.isdigit():
            continue
        if "all" not in opts.device_ids and n not in opts.device_ids:
            continue
        cpath = strip_root(opts.dev_root, p)
        devices.append({"name": n, "containerEdits": {"deviceNodes": [S.device_node(cpath, p, path_only=True)]}})
    return _finish(kind, devices, common, add_all)
