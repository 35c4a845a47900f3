"""GPU discovery through NVML (``libnvidia-ml.so.1`` from the driver root), via the generated
out-of-line cffi module ``hook._nvml_ffi`` (``_cffi_backend`` only, built by native/build_ffi.py).

:func:`open_nvml` loads the library the way the reference's library locator finds it and returns
an :class:`Nvml` whose methods return plain values (:class:`Gpu`, :class:`Mig`).
"""

from __future__ import annotations

from hook import oslite
from hook.gocompat import under_root
from hook.values import Factory, Value

from . import ldcache
from .pathmatch import glob_in, matcher
from . import errors

__all__ = ["Gpu", "Mig", "Nvml", "open_nvml", "locate_library", "LIB_DIRS", "NVML_NOT_FOUND"]

# The reference's fixed library folders, searched under the root after its ld.so.cache.
LIB_DIRS = ("", "/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
            "/usr/lib/x86_64-linux-gnu/nvidia/current", "/usr/lib/aarch64-linux-gnu/nvidia/current",
            "/lib64", "/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu",
            "/lib/x86_64-linux-gnu/nvidia/current", "/lib/aarch64-linux-gnu/nvidia/current")


class Mig(Value, frozen=True):
    """A MIG device: parent GPU, index within the parent, UUID, GPU/compute instance ids."""

    parent: int
    index: int
    uuid: str
    gi: int
    ci: int


class Gpu(Value):
    """A full GPU as NVML reports it (``bus_id`` as in sysfs: ``0000:01:00.0``)."""

    index: int
    minor: int
    uuid: str
    bus_id: str
    mig_enabled: bool
    coherent: bool
    migs: list[Mig] = Factory(list)


def locate_library(root: str, pattern: str, search_paths: tuple[str, ...] = ()) -> list[str]:
    """Paths (resolved) of libraries matching ``pattern``, found as the reference's library locator
    finds them: with ``search_paths`` (``--library-search-path``) in those host folders only, in
    that order; else the root's ld.so.cache first, then :data:`LIB_DIRS` under ``root``.  [] when none."""
    found: list[str] = []
    if search_paths:
        return _first_folder_with(pattern, search_paths)
    matches = matcher(pattern)
    for name, path in ldcache.entries(under_root(root, "/etc/ld.so.cache")):
        if matches(name):
            full = oslite.realpath(under_root(root, path))
            if oslite.isfile(full) and full not in found:
                found.append(full)
    if found:
        return found
    return _first_folder_with(pattern, tuple(under_root(root, d) if d else root for d in LIB_DIRS))


def _first_folder_with(pattern: str, folders: tuple[str, ...]) -> list[str]:
    """The files (symbolic links resolved) matching ``pattern`` in the first of ``folders`` that has one."""
    found: list[str] = []
    for d in folders:
        for p in glob_in(d, pattern):
            full = oslite.realpath(p)
            if oslite.isfile(full) and full not in found:
                found.append(full)
        if found:
            return found
    return found


class Nvml:
    """An initialised NVML; call :meth:`close` when done."""

    def __init__(self, ffi, lib, path: str) -> None:
        self.ffi, self.lib, self.path = ffi, lib, path

    def _check(self, ret: int, what: str) -> None:
        if ret != 0:
            raise errors.NvmlError(f"{what}: {self.error_string(ret)}")

    def error_string(self, ret: int) -> str:
        return self.ffi.string(self.lib.nvmlErrorString(ret)).decode("utf-8", "replace")

    def _str(self, fn, handle, what: str) -> str:
        buf = self.ffi.new("char[]", 96)
        self._check(fn(handle, buf, 96) if handle is not None else fn(buf, 96), what)
        return self.ffi.string(buf).decode("utf-8", "replace")

    def driver_version(self) -> str:
        return self._str(self.lib.nvmlSystemGetDriverVersion, None, "error getting driver version")

    def cuda_version(self) -> str:
        v = self.ffi.new("int *")
        self._check(self.lib.nvmlSystemGetCudaDriverVersion(v), "error getting CUDA driver version")
        return f"{v[0] // 1000}.{v[0] % 1000 // 10}"

    def count(self) -> int:
        n = self.ffi.new("unsigned int *")
        self._check(self.lib.nvmlDeviceGetCount_v2(n), "failed to get device count")
        return int(n[0])

    def handle_by_index(self, i: int):
        h = self.ffi.new("nvmlDevice_t *")
        self._check(self.lib.nvmlDeviceGetHandleByIndex_v2(i, h), "failed to get device handle from index")
        return h[0]

    def handle_by_uuid(self, uuid: str):
        h = self.ffi.new("nvmlDevice_t *")
        self._check(self.lib.nvmlDeviceGetHandleByUUID(uuid.encode(), h), "failed to get device handle from UUID")
        return h[0]

    def _uint(self, fn, handle, what: str) -> int:
        v = self.ffi.new("unsigned int *")
        self._check(fn(handle, v), what)
        return int(v[0])

    def gpu(self, handle) -> Gpu:
        lib = self.lib
        index = self._uint(lib.nvmlDeviceGetIndex, handle, "error getting device index")
        minor = self._uint(lib.nvmlDeviceGetMinorNumber, handle, "error getting GPU device minor number")
        uuid = self._str(lib.nvmlDeviceGetUUID, handle, "error getting device UUID")
        pci = self.ffi.new("nvmlPciInfo_t *")
        self._check(lib.nvmlDeviceGetPciInfo_v3(handle, pci), "error getting PCI info")
        bus = self.ffi.string(pci.busId).decode("ascii", "replace")
        if len(bus) > 12 and bus[:4] == "0000":
            bus = bus[4:]
        bus = bus.lower()
        cur, pend = self.ffi.new("unsigned int *"), self.ffi.new("unsigned int *")
        mig = lib.nvmlDeviceGetMigMode(handle, cur, pend) == 0 and cur[0] == 1
        mode = self.ffi.new("nvmlDeviceAddressingMode_t *")
        mode.version = (1 << 24) | 8
        coherent = lib.nvmlDeviceGetAddressingMode(handle, mode) == 0 and mode.value == 2
        gpu = Gpu(index, minor, uuid, bus, mig, coherent)
        if mig:
            gpu.migs.extend(self._migs(gpu, handle))
        return gpu

    def _migs(self, gpu: Gpu, handle) -> list[Mig]:
        lib = self.lib
        n = self._uint(lib.nvmlDeviceGetMaxMigDeviceCount, handle, "error getting max MIG device count")
        out = []
        for j in range(n):
            h = self.ffi.new("nvmlDevice_t *")
            ret = lib.nvmlDeviceGetMigDeviceHandleByIndex(handle, j, h)
            if ret == 6:  # NOT_FOUND: an empty slot
                continue
            self._check(ret, "error getting MIG device handle")
            out.append(self._mig(gpu, h[0], len(out)))
        return out

    def _mig(self, gpu: Gpu, h, j: int) -> Mig:
        lib = self.lib
        uuid = self._str(lib.nvmlDeviceGetUUID, h, "error getting MIG device UUID")
        gi = self._uint(lib.nvmlDeviceGetGpuInstanceId, h, "error getting GPU instance ID")
        ci = self._uint(lib.nvmlDeviceGetComputeInstanceId, h, "error getting compute instance ID")
        return Mig(gpu, j, uuid, gi, ci)

    def gpus(self) -> list[Gpu]:
        return [self.gpu(self.handle_by_index(i)) for i in range(self.count())]

    def close(self) -> None:
        try:
            self.lib.nvmlShutdown()
        finally:
            try:
                self.ffi.dlclose(self.lib)
            except Exception:  # already closed
                pass


#: What the reference's NVML binding (go-nvml) reports when the library cannot be found or loaded.
NVML_NOT_FOUND = "failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND"


def open_nvml(root: str, log, search_paths: tuple[str, ...] = ()) -> Nvml:
    """Load and initialise NVML from ``root`` (or ``search_paths``, see :func:`locate_library`);
    raises :class:`NvmlError`."""
    paths = locate_library(root, "libnvidia-ml.so.1", search_paths)
    if not paths:
        log.warning("libnvidia-ml.so.1 not found in %s", ", ".join(search_paths) if search_paths else
                    f"{under_root(root, '/etc/ld.so.cache')} or the library folders under {root}")
        raise errors.NvmlNotFoundError(NVML_NOT_FOUND)
    try:
        from hook._nvml_ffi import ffi
    except ImportError as exc:
        raise errors.NvmlNotFoundError(f"the NVML cffi module is not built (run ./build.sh native): {exc}") from None
    log.info("Using %s", paths[0])
    try:
        lib = ffi.dlopen(paths[0])
    except OSError as exc:
        log.warning("Failed to load %s: %s", paths[0], exc)
        raise errors.NvmlNotFoundError(NVML_NOT_FOUND) from None
    nvml = Nvml(ffi, lib, paths[0])
    ret = lib.nvmlInit_v2()
    if ret != 0:
        raise errors.NvmlError(f"failed to initialize NVML: {nvml.error_string(ret)}")
    return nvml
