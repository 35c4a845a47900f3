"""The runtime-mode assertion (hook.md §9.4): the hook only runs in 'legacy' mode.

:func:`resolve_mode` is pure given a :class:`Platform`; :class:`Platform`'s
default probes dlopen libdxcore / libnvidia-ml and read the Tegra files.
"""

from __future__ import annotations

from . import cdi, errors
from .values import Value

REFUSAL = ("invoking the NVIDIA Container Runtime Hook directly (e.g. specifying the docker --gpus flag) "
           "is not supported. Please use the NVIDIA Container Runtime (e.g. specify the --runtime=nvidia "
           "flag) instead")


class ModeResult(Value, frozen=True):
    """The mode, the stderr line announcing it, and the reason (for ``explain``)."""

    mode: str
    announcement: str
    reason: str

    @property
    def ok(self) -> bool:
        return self.mode == "legacy"


class Platform:
    """Host probes for auto mode.  Each method returns a bool and never raises."""

    def __init__(self) -> None:
        self._nvml: bool | None = None

    def has_dxcore(self) -> bool:
        return _dlopen("libdxcore.so")

    def has_tegra_files(self) -> bool:
        from . import oslite
        try:
            if oslite.S_IFMT(oslite.stat("/etc/nv_tegra_release").st_mode) != oslite.S_IFDIR:
                return True
        except (OSError, ValueError):
            pass
        try:
            with open("/sys/devices/soc0/family", "rb") as f:
                return f.read(5).lower().startswith(b"tegra")
        except OSError:
            return False

    def has_nvml(self) -> bool:
        if self._nvml is None:
            self._nvml = _dlopen("libnvidia-ml.so.1")
        return self._nvml

    def has_integrated_gpu(self) -> bool:
        # Needs NVML; checking for it first avoids loading the cffi binding where NVML cannot load.
        return self.has_nvml() and _nvml_integrated()


def _dlopen(name: str) -> bool:
    """dlopen(name, RTLD_LAZY) succeeds (through ``_ctypes``: the ``ctypes`` package is slow to import)."""
    from .oslite import RTLD_LAZY, RTLD_LOCAL
    try:
        from _hookexec import dlclose, dlopen  # built into the frozen binary
    except ImportError:
        from _ctypes import dlclose, dlopen
    try:
        handle = dlopen(name, RTLD_LAZY | RTLD_LOCAL)
    except OSError:
        return False
    dlclose(handle)
    return True


def _nvml_integrated() -> bool:
    """An integrated GPU (``nvgpu`` or Thor) among NVML's devices, through the out-of-line cffi binding
    ``hook._nvml_ffi`` (``_cffi_backend`` is built into the frozen binary; ``ctypes`` would cost 2.5 ms
    and import ``os``).  False when NVML cannot be loaded or any call fails."""
    try:
        from ._nvml_ffi import ffi
        nvml = ffi.dlopen("libnvidia-ml.so.1")
    except (ImportError, OSError):
        return False
    try:
        if nvml.nvmlInit_v2() != 0:
            return False
    except (AttributeError, ffi.error):  # a library without the symbol
        return False
    try:
        count = ffi.new("unsigned int *")
        if nvml.nvmlDeviceGetCount_v2(count) != 0:
            return False
        handle = ffi.new("nvmlDevice_t *")
        buf = ffi.new("char[96]")
        for i in range(count[0]):
            if nvml.nvmlDeviceGetHandleByIndex_v2(i, handle) != 0 or nvml.nvmlDeviceGetName(handle[0], buf, 96) != 0:
                return False
            name = ffi.string(buf).decode("utf-8", "replace")
            if name in ("DGX Display", "NVIDIA DGX Display"):
                continue
            if "(nvgpu)" in name or "NVIDIA Thor" in name:
                return True
        return False
    except (AttributeError, ffi.error):
        return False
    finally:
        try:
            nvml.nvmlShutdown()
        except (AttributeError, ffi.error):
            pass


def auto_announcement(mode: str) -> str:
    """The line announcing an auto-detected mode (hook.md §9.4); ``''`` when resolving crashed."""
    return f"Auto-detected mode as '{mode}'"


def resolve_mode(configured: str, devices: tuple[str, ...], platform: Platform) -> ModeResult:
    """Resolve the mode for a GPU container.

    Raises :class:`~hook.errors.CdiNameError` for a device name the reference cannot validate (it
    crashes after printing ``auto_announcement("")``, which :func:`hook.pipeline.trace` records).
    """
    if configured != "auto":
        return ModeResult(configured, f"Using requested mode '{configured}'",
                          f"nvidia-container-runtime.mode = {configured!r}")
    if devices and all(cdi.is_qualified(dev) for dev in devices):
        return ModeResult("cdi", auto_announcement("cdi"),
                          "auto: every requested device is a fully-qualified CDI name")
    dxcore = platform.has_dxcore()
    tegra = platform.has_tegra_files()
    nvml = platform.has_nvml()
    igpu = platform.has_integrated_gpu()
    if dxcore:
        mode, why = "legacy", "auto: WSL (libdxcore.so loads)"
    elif (tegra and not nvml) or igpu:
        mode, why = "csv", "auto: Tegra platform" + (" (integrated GPU)" if igpu else " without NVML")
    else:
        mode, why = "legacy", "auto: " + ("NVML found" if nvml else "no NVML, Tegra or WSL found")
    return ModeResult(mode, auto_announcement(mode), why)


def check_mode(result: ModeResult) -> None:
    """Raise :class:`ModeError` (the refusal) unless the mode is legacy."""
    if not result.ok:
        raise errors.ModeError(REFUSAL)
