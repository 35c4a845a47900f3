"""Loading libnvidia-container.so.1 through the generated out-of-line cffi modules.

The modules ``hook.nvc._nvc_ffi_<variant>`` are written by
``native/build_ffi.py`` at build time and need only ``_cffi_backend``.  The
library's version (``nvc_version()``) and a symbol probe choose the struct
layout variant:

* ``115``: ``nvc_imex_channel_mount`` exported (>= 1.15: 40-byte ``nvc_config`` with ``imex``);
* ``105``: no IMEX symbol, version >= 1.5 (``nvc_driver_info.firmwares``);
* ``101``: 1.1 - 1.4;

versions before 1.1 (no MIG members) and other majors are refused.
"""

from __future__ import annotations

import os

from ..values import Value
from . import LIB_NAME, LibraryUnavailable, candidates

MIN_VERSION = (1, 1, 0)
# Lazy binding, as the dynamic loader binds the CLI: with cffi's default RTLD_NOW every relocation of the
# library's dependencies (libtirpc, the Kerberos libraries, ...) is resolved at load, thousands of symbol
# lookups that the CLI never makes (docs/injector.md "Cost").  Every function the hook calls is checked
# with dlsym at load (SYMBOLS).
DLOPEN_MODE = os.RTLD_LAZY | os.RTLD_LOCAL
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
        raise LibraryUnavailable(f"the cffi module for {LIB_NAME} is not built (run ./build.sh native): {exc}") from None


def choose_variant(version: tuple[int, int, int], has_imex: bool) -> int:
    """Layout variant for a library ``version``; raises LibraryUnavailable when unsupported."""
    if version[0] != 1 or version < MIN_VERSION:
        raise LibraryUnavailable(f"{LIB_NAME} version {'.'.join(map(str, version))} is not supported (need 1.x >= 1.1.0)")
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
            raise LibraryUnavailable(f"cannot use {path}: undefined symbol: {name}")
    v = handle.nvc_version()
    if v == ffi.NULL:
        raise LibraryUnavailable(f"cannot use {path}: nvc_version() returned NULL")
    version = (int(v.major), int(v.minor), int(v.patch))
    text = ffi.string(v.string).decode("utf-8", "replace") if v.string != ffi.NULL else ".".join(map(str, version))
    return version, text


def load(library_path: str | None, root: str) -> Library:
    """Load the library (explicit path; else under ``root``; else the dynamic loader's search).

    Raises LibraryUnavailable when no candidate loads, a loaded one lacks a symbol of :data:`SYMBOLS`,
    ``nvc_version()`` returns NULL or the version is unsupported.
    """
    boot = _ffi(115)
    paths = [p for p in candidates(library_path, root) if library_path or os.path.isfile(p)]
    if not library_path:
        paths.append(LIB_NAME)  # the default loader path (LD_LIBRARY_PATH, ld.so.cache)
    errors: list[str] = []
    for path in paths:
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
    raise LibraryUnavailable(f"cannot load {LIB_NAME}: {detail}")
