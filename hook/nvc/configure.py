"""libnvidia-container.so.1 loaded in-process, and the ``nvidia-container-cli configure`` sequence through it.

Loading: the generated out-of-line cffi modules ``hook.nvc._nvc_ffi_<variant>`` (written by
``native/build_ffi.py`` at build time; they need only ``_cffi_backend``).  The library's version
(``nvc_version()``) and a symbol probe choose the struct layout variant:

* ``115``: ``nvc_imex_channel_mount`` exported (>= 1.15: 40-byte ``nvc_config`` with ``imex``);
* ``105``: no IMEX symbol, version >= 1.5 (``nvc_driver_info.firmwares``);
* ``101``: 1.1 - 1.4;

versions before 1.1 (no MIG members) and other majors are refused.

The sequence: call order, skip rules and cleanup follow libnvidia-container.md §3.1; what the CLI
decides itself (options, selection, requirements) is in :mod:`.rules`.  The calls must run in a
single-threaded process (the library's mount calls ``setns`` into the container) with the default
``SIGCHLD`` disposition (the library reaps its helpers itself).
"""

from __future__ import annotations

import errno

import _signal  # not ``signal``: that one imports enum; only get/set of one handler is needed here

from .. import oslite
from ..gocompat import DEFAULT_PATH
# ``Plan`` (hook.plan) appears in annotations only (PEP 563, never evaluated): not imported.
from ..values import Value
from . import LIB_NAME, candidates, failure, unavailable
from .rules import Gpu, Mig, Selection, build, evaluate, parse_imex, select_devices, select_mig_caps

MIN_VERSION = (1, 1, 0)
# Lazy binding, as the dynamic loader binds the CLI: with cffi's default RTLD_NOW every relocation of the
# library's dependencies (libtirpc, the Kerberos libraries, ...) is resolved at load, thousands of symbol
# lookups that the CLI never makes (docs/injector.md "Cost").  Every function the hook calls is checked
# with dlsym at load (SYMBOLS).
DLOPEN_MODE = oslite.RTLD_LAZY | oslite.RTLD_LOCAL
# Every function the configure sequence calls (hook/nvc/configure.py), probed at load so that a library
# that lacks one is "unavailable" (auto falls back to the CLI) instead of failing half-way through.
SYMBOLS: tuple[str, ...] = (
    "nvc_version", "nvc_context_new", "nvc_context_free", "nvc_config_new", "nvc_config_free", "nvc_init",
    "nvc_shutdown", "nvc_error", "nvc_container_config_new", "nvc_container_config_free", "nvc_container_new",
    "nvc_container_free", "nvc_driver_info_new", "nvc_driver_info_free", "nvc_device_info_new",
    "nvc_device_info_free", "nvc_driver_mount", "nvc_device_mount", "nvc_mig_device_access_caps_mount",
    "nvc_mig_config_global_caps_mount", "nvc_mig_monitor_global_caps_mount", "nvc_device_mig_caps_mount",
    "nvc_ldcache_update",
)


class Library(Value):
    """A loaded library: the cffi ``ffi`` of its layout, the ``lib`` handle and what was detected.

    ``handles``: the (ffi, lib) pairs to dlclose.
    """

    ffi: object
    lib: object
    path: str
    version: tuple[int, int, int]
    version_string: str
    variant: int
    has_imex: bool
    handles: list[tuple[object, object]]

    def close(self) -> None:
        """dlclose every handle (after nvc_shutdown and the frees).  Raises nothing."""
        while self.handles:
            ffi, lib = self.handles.pop()
            try:
                ffi.dlclose(lib)
            except Exception:  # already closed: nothing to do
                pass

    def error(self, ctx: object) -> str:
        """``nvc_error(ctx)`` as one line (``unknown error`` when the library set none)."""
        msg = self.lib.nvc_error(ctx)
        if msg == self.ffi.NULL:
            return "unknown error"
        text = self.ffi.string(msg).decode("utf-8", "replace")
        return " ".join(text.splitlines()) or "unknown error"


def _ffi(variant: int) -> object:
    try:
        if variant == 115:
            from ._nvc_ffi_115 import ffi
        elif variant == 105:
            from ._nvc_ffi_105 import ffi
        else:
            from ._nvc_ffi_101 import ffi
        return ffi
    except ImportError as exc:
        raise unavailable(f"the cffi module for {LIB_NAME} is not built (run ./build.sh native): {exc}") from None


def choose_variant(version: tuple[int, int, int], has_imex: bool) -> int:
    """Layout variant for a library ``version``; raises LibraryUnavailable when unsupported."""
    if version[0] != 1 or version < MIN_VERSION:
        raise unavailable(f"{LIB_NAME} version {'.'.join(map(str, version))} is not supported (need 1.x >= 1.1.0)")
    if has_imex:
        return 115
    return 105 if version >= (1, 5, 0) else 101


def _has(ffi: object, handle: object, name: str) -> bool:
    try:
        getattr(handle, name)
        return True
    except (AttributeError, ffi.error):  # cffi raises one of these for a missing symbol
        return False


def _probe(ffi: object, handle: object, path: str) -> tuple[tuple[int, int, int], str]:
    """``(version, version string)`` of a loaded library after checking its symbols; raises LibraryUnavailable."""
    for name in SYMBOLS:
        if not _has(ffi, handle, name):
            raise unavailable(f"cannot use {path}: undefined symbol: {name}")
    v = handle.nvc_version()
    if v == ffi.NULL:
        raise unavailable(f"cannot use {path}: nvc_version() returned NULL")
    version = (int(v.major), int(v.minor), int(v.patch))
    text = ffi.string(v.string).decode("utf-8", "replace") if v.string != ffi.NULL else ".".join(map(str, version))
    return version, text


def load(library_path: str | None, root: str) -> Library:
    """Load the library (explicit path; else :func:`~hook.nvc.candidates` under ``root`` and the host;
    else the dynamic loader's search).  The candidates are looked at in order, up to the first that loads.

    Raises LibraryUnavailable when no candidate loads, a loaded one lacks a symbol of :data:`SYMBOLS`,
    ``nvc_version()`` returns NULL or the version is unsupported.
    """
    boot = _ffi(115)
    paths = candidates(library_path, root)
    if not library_path:
        paths.append(LIB_NAME)  # the default loader path (LD_LIBRARY_PATH, ld.so.cache)
    errors: list[str] = []
    for path in paths:
        if path not in (library_path, LIB_NAME) and not oslite.isfile(path):
            continue
        try:
            handle = boot.dlopen(path, DLOPEN_MODE)
        except OSError as exc:
            errors.append(str(exc))
            continue
        try:
            version, text = _probe(boot, handle, path)
            has_imex = _has(boot, handle, "nvc_imex_channel_mount")
            variant = choose_variant(version, has_imex)
            ffi = boot if variant == 115 else _ffi(variant)
            lib = handle if variant == 115 else ffi.dlopen(path, DLOPEN_MODE)
        except BaseException:
            boot.dlclose(handle)
            raise
        handles = [(boot, handle)] if variant == 115 else [(boot, handle), (ffi, lib)]
        return Library(ffi, lib, path, version, text, variant, has_imex, handles)
    detail = errors[-1] if errors else f"{LIB_NAME}: not found"
    raise unavailable(f"cannot load {LIB_NAME}: {detail}")


# --- the configure sequence ---

def _fail(stage: str, detail: str) -> Exception:
    return failure(f"{stage} error: {detail}")


def thread_count() -> int:
    """Threads of this process: the link count of ``/proc/self/task`` is 2 + the threads (one ``stat``;
    ``/proc/self/status`` is generated whole by the kernel, ten times dearer), else ``Threads:`` of
    ``/proc/self/status``; 1 when neither can be read."""
    try:
        links = oslite.stat("/proc/self/task").st_nlink
        if links > 2:
            return links - 2
    except OSError:
        pass
    n = 1
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Threads:"):
                    n = max(n, int(line.split()[1]))
                    break
    except OSError:
        pass
    return n


def _cstr(ffi: object, text: str | None, keep: list[object]) -> object:
    if text is None:
        return ffi.NULL
    buf = ffi.new("char[]", oslite.fsencode(text))
    keep.append(buf)
    return buf


def _text(ffi: object, p: object) -> str | None:
    """A C string from the library, or None for NULL."""
    return None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")


def _gpus(ffi: object, info: object) -> tuple[Gpu, ...]:
    def s(p: object) -> str | None:
        return _text(ffi, p)

    out = []
    for i in range(int(info.ngpus)):
        d = info.gpus[i]
        migs = tuple(Mig(i, j, s(d.mig_devices.devices[j].uuid) or "") for j in range(int(d.mig_devices.ndevices)))
        out.append(Gpu(i, s(d.uuid) or "", s(d.busid) or "", s(d.arch), s(d.brand), bool(d.mig_capable), migs))
    return tuple(out)


def check_requirements(requirements: tuple[str, ...], cuda: str | None, driver: str | None,
                       gpus: tuple[Gpu, ...], selection: Selection, checked: list) -> None:
    """Every requirement for every selected GPU, then every selected MIG device's parent; once with no device
    when nothing is selected.  Raises InjectionError (``requirement error: ...``)."""
    devices = [gpus[i] for i in selection.gpus] + [gpus[m.gpu] for m in selection.migs]
    targets: list[Gpu | None] = list(devices) if devices else [None]
    for gpu in targets:
        props = {"cuda": cuda, "driver": driver}
        if gpu:
            props.update(arch=gpu.arch, brand=gpu.brand, device=gpu.label())
        for req in requirements:
            checked.append((req, gpu.label() if gpu else None))
            evaluate(req, props)


def configure(plan: Plan, library: Library) -> dict:
    """Run the whole configure sequence for ``plan`` with a loaded ``library``.

    The caller has checked that the plan has no :func:`~.rules.reproduce_blocker` (:func:`hook.nvc.inject`).
    Raises InjectionError with one line ``nvidia-container-cli: <stage> error: <detail>``
    (stages as the CLI's: input, initialization, container, detection, device,
    mig-config, mig-monitor, requirement, mount, ldcache) for refused inputs,
    library failures (detail = ``nvc_error``) and failed requirements.

    Returns a report of what the run decided and called (for tests):
    ``library``, ``version``, ``request``, ``imex``, ``gpus``, ``selection``, ``mig_config`` and
    ``mig_monitor`` (``(all active, GPU indices)``), ``checked`` ((requirement, device label or None)
    in evaluation order).  A dict, not a class: nothing on the hook's path reads it.
    """
    report = {"library": library.path, "version": library.version_string}
    req = build(plan, library.version)
    imex = parse_imex(plan.imex_list)
    report.update(request=req, imex=imex)
    if imex and not library.has_imex:
        raise _fail("initialization", f"IMEX channels need libnvidia-container >= 1.15 (found {library.version_string})")
    threads = thread_count()
    if threads > 1:
        raise _fail("initialization", f"the library injector needs a single-threaded process ({threads} threads)")

    ffi, lib = library.ffi, library.lib
    keep: list[object] = []
    ctx = cfg = ccfg = cnt = drv = dev = ffi.NULL
    old_sigchld = _signal.getsignal(_signal.SIGCHLD)
    old_debug = oslite.getenv("NVC_DEBUG_FILE")
    # PATH for the library's binary lookup when the hook has none (runtimes often start hooks with an
    # empty environment; the reference hook always hands the CLI a PATH, hook.md §7.7).
    set_path = not oslite.getenv("PATH")
    try:
        if set_path:
            oslite.setenv("PATH", DEFAULT_PATH)
        if old_sigchld != _signal.SIG_DFL:
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        if req.debug_file:
            oslite.setenv("NVC_DEBUG_FILE", req.debug_file)
        ctx = lib.nvc_context_new()
        cfg = lib.nvc_config_new()
        rootfs = _cstr(ffi, req.rootfs, keep)
        ccfg = lib.nvc_container_config_new(req.pid, rootfs)
        if ctx == ffi.NULL or cfg == ffi.NULL or ccfg == ffi.NULL:
            raise failure(f"memory allocation failed: {oslite.strerror(errno.ENOMEM)}")
        cfg.root = _cstr(ffi, req.root, keep)
        cfg.ldcache = _cstr(ffi, req.ldcache, keep)
        if req.uid is not None:
            cfg.uid = req.uid
            cfg.gid = req.gid
        if imex:
            chans = ffi.new("struct nvc_imex_channel[]", len(imex))
            for i, ch in enumerate(imex):
                chans[i].id = ch
            keep.append(chans)
            cfg.imex.chans = chans
            cfg.imex.nchans = len(imex)
        if lib.nvc_init(ctx, cfg, _cstr(ffi, req.init_opts, keep)) < 0:
            raise _fail("initialization", library.error(ctx))
        ccfg.ldconfig = _cstr(ffi, req.ldconfig, keep)
        cnt = lib.nvc_container_new(ctx, ccfg, _cstr(ffi, req.container_opts, keep))
        if cnt == ffi.NULL:
            raise _fail("container", library.error(ctx))
        drv = lib.nvc_driver_info_new(ctx, _cstr(ffi, req.driver_opts, keep))
        if drv == ffi.NULL:
            raise _fail("detection", library.error(ctx))
        dev = lib.nvc_device_info_new(ctx, ffi.NULL)
        if dev == ffi.NULL:
            raise _fail("detection", library.error(ctx))

        gpus = _gpus(ffi, dev)
        report["gpus"] = gpus
        sel = select_devices(plan.device_list or None, gpus)
        cfg_all, cfg_gpus = select_mig_caps("mig-config", plan.mig_config, sel, gpus) if gpus else (False, ())
        mon_all, mon_gpus = select_mig_caps("mig-monitor", plan.mig_monitor, sel, gpus) if gpus else (False, ())
        report.update(selection=sel, mig_config=(cfg_all, cfg_gpus), mig_monitor=(mon_all, mon_gpus), checked=[])
        check_requirements(plan.requirements, _text(ffi, drv.cuda_version), _text(ffi, drv.nvrm_version), gpus, sel,
                           report["checked"])

        def mount(rv: int) -> None:
            if rv < 0:
                raise _fail("mount", library.error(ctx))

        mount(lib.nvc_driver_mount(ctx, cnt, drv))
        for index in sel.gpus:
            mount(lib.nvc_device_mount(ctx, cnt, ffi.addressof(dev.gpus[index])))
        if not cfg_all and not mon_all:
            for mig in sel.migs:
                mount(lib.nvc_mig_device_access_caps_mount(
                    ctx, cnt, ffi.addressof(dev.gpus[mig.gpu].mig_devices.devices[mig.index])))
        if cfg_all and cfg_gpus:
            mount(lib.nvc_mig_config_global_caps_mount(ctx, cnt))
            for index in cfg_gpus:
                mount(lib.nvc_device_mig_caps_mount(ctx, cnt, ffi.addressof(dev.gpus[index])))
        if mon_all and mon_gpus:
            mount(lib.nvc_mig_monitor_global_caps_mount(ctx, cnt))
            for index in mon_gpus:
                mount(lib.nvc_device_mig_caps_mount(ctx, cnt, ffi.addressof(dev.gpus[index])))
        if imex:
            chans = cfg.imex.chans
            for i in range(len(imex)):
                mount(lib.nvc_imex_channel_mount(ctx, cnt, ffi.addressof(chans[i])))
        if lib.nvc_ldcache_update(ctx, cnt) < 0:
            raise _fail("ldcache", library.error(ctx))
        return report
    finally:
        if ctx != ffi.NULL:
            lib.nvc_shutdown(ctx)
        lib.nvc_container_free(cnt)
        lib.nvc_device_info_free(dev)
        lib.nvc_driver_info_free(drv)
        lib.nvc_container_config_free(ccfg)
        lib.nvc_config_free(cfg)
        lib.nvc_context_free(ctx)
        if set_path:
            oslite.delenv("PATH")
        if req.debug_file:
            if old_debug is None:
                oslite.delenv("NVC_DEBUG_FILE")
            else:
                oslite.setenv("NVC_DEBUG_FILE", old_debug)
        if old_sigchld != _signal.SIG_DFL and old_sigchld is not None:
            _signal.signal(_signal.SIGCHLD, old_sigchld)
