"""The ``nvidia-container-cli configure`` sequence, performed through libnvidia-container in-process.

Call order, skip rules and cleanup follow libnvidia-container.md §3.1; the
pure parts (options, selection, requirements) live in :mod:`.request`,
:mod:`.select` and :mod:`.dsl`.  The calls must run in a single-threaded
process (the library's mount calls ``setns`` into the container) with the
default ``SIGCHLD`` disposition (the library reaps its helpers itself).
"""

from __future__ import annotations

import errno
import os

import _signal  # not ``signal``: that one imports enum; only get/set of one handler is needed here

from ..gocompat import DEFAULT_PATH
from ..plan import Plan
from ..values import Factory, Value
from . import InjectionError
from . import dsl
from .binding import Library
from .request import Request, RequestError, build, reproduce_blocker
from .select import Gpu, Mig, Selection, SelectionError, parse_imex, select_devices, select_mig_caps

MESSAGE_PREFIX = "nvidia-container-cli: "
# PATH for the library's binary lookup when the hook has none (runtimes often start hooks with an empty
# environment; the reference hook always hands the CLI a PATH, hook.md §7.7).


def _fail(stage: str, detail: str) -> InjectionError:
    return InjectionError(f"{MESSAGE_PREFIX}{stage} error: {detail}")


class Report(Value):
    """What one run decided and called (for ``explain``, logs and tests).

    ``checked``: (requirement, device label or None) in evaluation order.
    """

    library: str = ""
    version: str = ""
    request: Request | None = None
    gpus: tuple[Gpu, ...] = ()
    selection: Selection = Factory(Selection)
    mig_config: tuple[bool, tuple[int, ...]] = (False, ())
    mig_monitor: tuple[bool, tuple[int, ...]] = (False, ())
    imex: tuple[int, ...] = ()
    checked: list[tuple[str, str | None]] = Factory(list)


def thread_count() -> int:
    """Threads of this process (``/proc/self/status``; 1 when unreadable)."""
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
    buf = ffi.new("char[]", os.fsencode(text))
    keep.append(buf)
    return buf


def _gpus(ffi: object, info: object) -> tuple[Gpu, ...]:
    def s(p: object) -> str | None:
        return None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")

    out = []
    for i in range(int(info.ngpus)):
        d = info.gpus[i]
        migs = tuple(Mig(i, j, s(d.mig_devices.devices[j].uuid) or "") for j in range(int(d.mig_devices.ndevices)))
        out.append(Gpu(i, s(d.uuid) or "", s(d.busid) or "", s(d.arch), s(d.brand), bool(d.mig_capable), migs))
    return tuple(out)


def check_requirements(requirements: tuple[str, ...], cuda: str | None, driver: str | None,
                       gpus: tuple[Gpu, ...], selection: Selection, report: Report) -> None:
    """Every requirement for every selected GPU, then every selected MIG device's parent; once with no device
    when nothing is selected.  Raises InjectionError (``requirement error: ...``)."""
    devices = [gpus[i] for i in selection.gpus] + [gpus[m.gpu] for m in selection.migs]
    targets: list[Gpu | None] = list(devices) if devices else [None]
    for gpu in targets:
        props = dsl.Properties(cuda=cuda, driver=driver,
                               arch=gpu.arch if gpu else None, brand=gpu.brand if gpu else None,
                               device=gpu.label() if gpu else None)
        for req in requirements:
            report.checked.append((req, gpu.label() if gpu else None))
            try:
                dsl.evaluate(req, props)
            except dsl.RequirementError as exc:
                raise _fail("requirement", str(exc)) from None


def configure(plan: Plan, library: Library, report: Report | None = None) -> Report:
    """Run the whole configure sequence for ``plan`` with a loaded ``library``.

    Refuses plans that :func:`~.request.reproduce_blocker` rejects (use the CLI for those).
    Raises InjectionError with one line ``nvidia-container-cli: <stage> error: <detail>``
    (stages as the CLI's: input, initialization, container, detection, device,
    mig-config, mig-monitor, requirement, mount, ldcache) for refused inputs,
    library failures (detail = ``nvc_error``) and failed requirements.
    """
    report = report or Report()
    report.library, report.version = library.path, library.version_string
    blocker = reproduce_blocker(plan)
    if blocker:
        raise _fail("input", f"the library injector cannot reproduce this request exactly: {blocker}")
    try:
        req = build(plan, library.version)
        imex = parse_imex(plan.imex_list)
    except RequestError as exc:
        raise InjectionError(f"{MESSAGE_PREFIX}{exc}") from None
    except SelectionError as exc:
        raise InjectionError(f"{MESSAGE_PREFIX}{exc}") from None
    report.request, report.imex = req, imex
    if imex and not library.has_imex:
        raise _fail("initialization", f"IMEX channels need libnvidia-container >= 1.15 (found {library.version_string})")
    threads = thread_count()
    if threads > 1:
        raise _fail("initialization", f"the library injector needs a single-threaded process ({threads} threads)")

    ffi, lib = library.ffi, library.lib
    keep: list[object] = []
    ctx = cfg = ccfg = cnt = drv = dev = ffi.NULL
    old_sigchld = _signal.getsignal(_signal.SIGCHLD)
    old_debug = os.environ.get("NVC_DEBUG_FILE")
    set_path = not os.environ.get("PATH")
    try:
        if set_path:
            os.environ["PATH"] = DEFAULT_PATH
        if old_sigchld != _signal.SIG_DFL:
            _signal.signal(_signal.SIGCHLD, _signal.SIG_DFL)
        if req.debug_file:
            os.environ["NVC_DEBUG_FILE"] = req.debug_file
        ctx = lib.nvc_context_new()
        cfg = lib.nvc_config_new()
        rootfs = _cstr(ffi, req.rootfs, keep)
        ccfg = lib.nvc_container_config_new(req.pid, rootfs)
        if ctx == ffi.NULL or cfg == ffi.NULL or ccfg == ffi.NULL:
            raise InjectionError(f"{MESSAGE_PREFIX}memory allocation failed: {os.strerror(errno.ENOMEM)}")
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
        report.gpus = gpus
        try:
            sel = select_devices(plan.device_list or None, gpus)
            cfg_all, cfg_gpus = select_mig_caps("mig-config", plan.mig_config, sel, gpus) if gpus else (False, ())
            mon_all, mon_gpus = select_mig_caps("mig-monitor", plan.mig_monitor, sel, gpus) if gpus else (False, ())
        except SelectionError as exc:
            raise InjectionError(f"{MESSAGE_PREFIX}{exc}") from None
        report.selection, report.mig_config, report.mig_monitor = sel, (cfg_all, cfg_gpus), (mon_all, mon_gpus)
        s = lambda p: None if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")  # noqa: E731
        check_requirements(plan.requirements, s(drv.cuda_version), s(drv.nvrm_version), gpus, sel, report)

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
            os.environ.pop("PATH", None)
        if req.debug_file:
            if old_debug is None:
                os.environ.pop("NVC_DEBUG_FILE", None)
            else:
                os.environ["NVC_DEBUG_FILE"] = old_debug
        if old_sigchld != _signal.SIG_DFL and old_sigchld is not None:
            _signal.signal(_signal.SIGCHLD, old_sigchld)
