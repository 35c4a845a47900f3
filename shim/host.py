"""What the create path reads from the host: the driver version and files under the driver root.

Only legacy-mode feature, CUDA-compat and graphics edits use it (runtime.md §8.4, §11.3).
"""

from __future__ import annotations

from hook import oslite

LIB_DIRS = ("/usr/lib64", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib64",
            "/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib", "/lib")
GRAPHICS_LIBS = ("libEGL_nvidia.so", "libGLESv1_CM_nvidia.so", "libGLESv2_nvidia.so", "libGLX_nvidia.so",
                 "libnvidia-eglcore.so", "libnvidia-glcore.so", "libnvidia-glsi.so", "libnvidia-tls.so",
                 "libnvidia-gpucomp.so", "libnvidia-glvkspirv.so", "libnvidia-rtcore.so",
                 "libnvidia-egl-gbm.so", "libnvidia-egl-wayland.so", "libnvidia-allocator.so")
GRAPHICS_CONFIGS = ("/etc/vulkan/icd.d/nvidia_icd.json", "/usr/share/vulkan/icd.d/nvidia_icd.json",
                    "/etc/vulkan/implicit_layer.d/nvidia_layers.json",
                    "/usr/share/vulkan/implicit_layer.d/nvidia_layers.json",
                    "/usr/share/glvnd/egl_vendor.d/10_nvidia.json",
                    "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
                    "/usr/share/egl/egl_external_platform.d/10_nvidia_wayland.json")
# NVIDIA_<FEATURE>=enabled: the host device nodes it brings (glob patterns under /dev).
FEATURE_DEVICES = {
    "NVIDIA_GDS": ("nvidia-fs*",),
    "NVIDIA_MOFED": ("infiniband/uverbs*", "infiniband/rdma_cm"),
    "NVIDIA_GDRCOPY": ("gdrdrv",),
    "NVIDIA_NVSWITCH": ("nvidia-nvswitch*",),
}


class DriverRoot:
    """The driver root (``nvidia-container-cli.root``; ``""`` is ``/``)."""

    def __init__(self, root: str) -> None:
        self.root = root.rstrip("/")

    def path(self, p: str) -> str:
        return self.root + p

    def _glob(self, directory: str, prefix: str) -> list[str]:
        try:
            names = sorted(oslite.listdir(self.path(directory)))
        except OSError:
            return []
        return [f"{directory}/{n}" for n in names if n.startswith(prefix)]

    def driver_version(self) -> str:
        """The version suffix of ``libcuda.so.<version>``.  Raises LookupError."""
        for d in LIB_DIRS:
            for p in self._glob(d, "libcuda.so."):
                version = p.rsplit("libcuda.so.", 1)[1]
                if "." in version and oslite.isfile(self.path(p)):
                    return version
        raise LookupError("failed to locate libcuda.so.*.*: pattern libcuda.so.*.* not found")

    def graphics_files(self, version: str) -> list[str]:
        """Host paths (inside the root) of the graphics libraries of ``version`` and the ICD/EGL files."""
        found = []
        for d in LIB_DIRS:
            for lib in GRAPHICS_LIBS:
                p = f"{d}/{lib}.{version}"
                if oslite.isfile(self.path(p)):
                    found.append(p)
        found += [p for p in GRAPHICS_CONFIGS if oslite.isfile(self.path(p))]
        return found

    def feature_devices(self, feature: str) -> list[str]:
        out = []
        for pattern in FEATURE_DEVICES[feature]:
            directory, _, name = ("/dev/" + pattern).rpartition("/")
            if name.endswith("*"):
                out += self._glob(directory, name[:-1])
            elif oslite.exists(self.path(f"{directory}/{name}")):
                out.append(f"{directory}/{name}")
        return out
