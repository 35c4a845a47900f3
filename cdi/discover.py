"""Driver files under the driver root (spec section 2.2): the common edits of the nvml and
management modes, as pure functions of the root's files.  Missing files are only warnings."""

from __future__ import annotations

from hook import oslite

from hook.gocompat import strip_root, under_root

from . import elf
from .nvml import locate_library
from .pathmatch import escape, glob_in
from .spec import device_node, mount

__all__ = ["Discovery", "control_nodes", "driver_libraries", "graphics", "ipc", "firmware", "binaries"]


class Discovery:
    """What discovery found: mounts, links per hook, library folders, libcuda folders."""

    def __init__(self) -> None:
        self.mounts: list[dict] = []
        self.graphics_links: list[str] = []
        self.library_links: list[str] = []
        self.library_folders: list[str] = []
        self.libcuda_dirs: list[str] = []


def control_nodes(dev_root: str, log) -> list[dict]:
    nodes = []
    for name in ("/dev/nvidia-modeset", "/dev/nvidia-uvm-tools", "/dev/nvidia-uvm", "/dev/nvidiactl"):
        host = under_root(dev_root, name)
        if _is_char(host):
            log.info("Selecting %s as %s", host, name)
            nodes.append(device_node(name, host))
    return nodes


def _is_char(path: str) -> bool:
    try:
        return oslite.S_IFMT(oslite.stat(path).st_mode) == oslite.S_IFCHR
    except OSError:
        return False


def _mount_file(root: str, host: str, log, container: str | None = None, ipc: bool = False) -> dict:
    c = container or strip_root(root, host)
    log.info("Selecting %s as %s", host, c)
    return mount(host, c, ipc)


def _lib_dirs(root: str) -> list[str]:
    """Folders (under the root) holding libraries listed in the root's ld.so.cache."""
    from . import ldcache
    dirs: set[str] = set()
    real: dict[str, str] = {}  # folder -> its realpath: a cache lists hundreds of files in a few folders
    for _name, path in ldcache.entries(under_root(root, "/etc/ld.so.cache")):
        dirs.add(_real_dir(under_root(root, path), real))
    return sorted(dirs)


def _real_dir(path: str, real: dict[str, str]) -> str:
    """``os.path.dirname(os.path.realpath(path))``, resolving each folder once: links to a bare
    name (``libcuda.so.1 -> libcuda.so.550.54.14``) are followed within the folder, any other
    link by ``realpath``."""
    folder, name = oslite.split(path)
    if name in ("", ".", ".."):
        return oslite.dirname(oslite.realpath(path))
    d = real.get(folder)
    if d is None:
        d = real[folder] = oslite.realpath(folder)
    for _ in range(40):
        try:
            target = oslite.readlink(oslite.join(d, name))
        except OSError:  # not a link (or missing): realpath stops here too
            return d
        if "/" in target or target in (".", ".."):
            return oslite.dirname(oslite.realpath(path))
        name = target
    return oslite.dirname(oslite.realpath(path))


def driver_libraries(root: str, version: str, log, d: Discovery, explicit: bool = False,
                     search_paths: tuple[str, ...] = ()) -> None:
    """2.2 items 3, 4, 6, 8: version libraries (+ vdpau), nvvm70, their links and folders; with
    ``search_paths`` (``--library-search-path``) those host folders instead of the root's ld.so.cache."""
    libs: list[str] = []
    folders = list(dict.fromkeys(oslite.realpath(p) for p in search_paths)) if search_paths else _lib_dirs(root)
    for folder in folders:
        for sub in (folder, oslite.join(folder, "vdpau")):
            for p in glob_in(sub, "*.so." + escape(version)):
                if oslite.isfile(p) and not oslite.islink(p) and p not in libs:
                    libs.append(p)
    nvvm = locate_library(root, "libnvidia-nvvm70.so.*", search_paths)
    if not nvvm:
        log.warning("Missing libnvidia-nvvm70.so.*")
    libs += [p for p in nvvm if p not in libs]
    if explicit:
        for pattern in ("libEGL.so.*", "libGL.so.*", "libGLESv1_CM.so.*", "libGLESv2.so.*", "libGLX.so.*",
                        "libGLdispatch.so.*", "libOpenCL.so.*", "libOpenGL.so.*", "libnvidia-api.so.*",
                        "libnvidia-egl-xcb.so.*", "libnvidia-egl-xlib.so.*"):
            libs += [p for p in locate_library(root, pattern, search_paths) if p not in libs]
    links: list[str] = []
    for p in libs:
        cpath = strip_root(root, p)
        log.info("Selecting %s as %s", p, cpath)
        d.mounts.append(mount(p, cpath))
        cdir, base = oslite.dirname(cpath), oslite.basename(p)
        if cdir not in d.library_folders:
            d.library_folders.append(cdir)
        wanted = []
        if base.startswith("libcuda.so."):
            wanted.append(f"libcuda.so.1::{cdir}/libcuda.so")
            if cdir not in d.libcuda_dirs:
                d.libcuda_dirs.append(cdir)
        if base.startswith("libGLX_nvidia.so."):
            wanted.append(f"{base}::{cdir}/libGLX_indirect.so.0")
        so = elf.soname(p)
        if so and so != base:
            wanted.append(f"{base}::{cdir}/{so}")
        links += [w for w in wanted if w not in links]
    d.library_links = links
    d.library_folders.sort()


_GRAPHICS_LIBS = ("libnvidia-egl-gbm.so.*.*", "libnvidia-egl-wayland.so.*.*", "libnvidia-egl-wayland2.so.*.*",
                  "libnvidia-egl-xcb.so.*.*", "libnvidia-egl-xlib.so.*.*")
_CONFIGS = ("glvnd/egl_vendor.d/10_nvidia.json", "egl/egl_external_platform.d/15_nvidia_gbm.json",
            "egl/egl_external_platform.d/10_nvidia_wayland.json",
            "egl/egl_external_platform.d/09_nvidia_wayland2.json",
            "egl/egl_external_platform.d/20_nvidia_xcb.json", "egl/egl_external_platform.d/20_nvidia_xlib.json",
            "nvidia/nvoptix.bin", "X11/xorg.conf.d/10-nvidia.conf", "X11/xorg.conf.d/nvidia-drm-outputclass.conf",
            "OpenCL/vendors/nvidia.icd", "vulkan/icd.d/nvidia_icd.json", "vulkan/icd.d/nvidia_layers.json",
            "vulkan/implicit_layer.d/nvidia_layers.json", "vulkan/icd.d/nvidia_icd.x86_64.json")


def _first_in(dirs: list[str], name: str) -> str | None:
    for dd in dirs:
        p = oslite.join(dd, name)
        if oslite.isfile(p):
            return p
    return None


def graphics(root: str, version: str, log, d: Discovery, config_dirs: tuple[str, ...] = (),
             search_paths: tuple[str, ...] = ()) -> None:
    """2.2 item 2: graphics libraries, X.org modules, nvidia-xconfig, config files and their links
    (libraries found in ``search_paths`` when given, see :func:`cdi.nvml.locate_library`)."""
    libdir = "/usr/lib/x86_64-linux-gnu"
    cuda = locate_library(root, "libcuda.so.*", search_paths)
    if cuda:
        libdir = strip_root(root, oslite.dirname(cuda[0]))
    for pattern in _GRAPHICS_LIBS:
        found = locate_library(root, pattern, search_paths)
        if not found:
            log.warning("Could not locate %s: %s: not found", pattern, pattern)
        for p in found:
            d.mounts.append(_mount_file(root, p, log))
    allocator = locate_library(root, f"libnvidia-allocator.so.{version}", search_paths)
    if allocator:
        d.graphics_links.append(f"../libnvidia-allocator.so.1::{libdir}/gbm/nvidia-drm_gbm.so")
    producer = locate_library(root, f"libnvidia-vulkan-producer.so.{version}", search_paths)
    for p in producer:
        d.mounts.append(_mount_file(root, p, log))
        d.graphics_links.append(f"libnvidia-vulkan-producer.so.{version}::{libdir}/libnvidia-vulkan-producer.so")
    xdirs = [under_root(root, x) for x in (
        libdir + "/nvidia/xorg", libdir + "/xorg/modules/drivers", libdir + "/xorg/modules/extensions",
        libdir + "/xorg/modules/updates/drivers", libdir + "/xorg/modules/updates/extensions",
        "/usr/lib/xorg/modules/drivers", "/usr/lib/xorg/modules/extensions",
        "/usr/lib/xorg/modules/updates/drivers", "/usr/lib/xorg/modules/updates/extensions",
        "/usr/lib64/xorg/modules/drivers", "/usr/lib64/xorg/modules/extensions",
        "/usr/lib64/xorg/modules/updates/drivers", "/usr/lib64/xorg/modules/updates/extensions",
        "/usr/X11R6/lib/modules/drivers", "/usr/X11R6/lib/modules/extensions",
        "/usr/X11R6/lib64/modules/drivers", "/usr/X11R6/lib64/modules/extensions")]
    for name in ("nvidia_drv.so", f"libglxserver_nvidia.so.{version}"):
        p = _first_in(xdirs, name)
        if p is None:
            log.warning("Could not locate %s: %s: not found", name, name)
            continue
        d.mounts.append(_mount_file(root, p, log))
        if name.startswith("libglxserver"):
            d.graphics_links.append(f"{name}::{strip_root(root, oslite.dirname(p))}/libglxserver_nvidia.so")
    b = _binary(root, "nvidia-xconfig")
    if b:
        d.mounts.append(_mount_file(root, b, log))
    else:
        log.warning("Could not locate nvidia-xconfig: nvidia-xconfig: not found")
    cdirs = list(config_dirs) or [under_root(root, x) for x in ("/etc", "/usr/local/share", "/usr/share")]
    for rel in _CONFIGS:
        p = _first_in(cdirs, rel)
        if p is None:
            log.warning("Could not locate %s: %s: not found", rel, rel)
            continue
        d.mounts.append(_mount_file(root, p, log, config_container_path(rel)))


def config_container_path(rel: str) -> str:
    """Where a graphics config file is mounted (spec 2.2 item 2), whatever host folder it came from
    (``<root>/etc``, ``<root>/usr/local/share``, ``<root>/usr/share`` or a ``--config-search-path``):
    OpenCL and Vulkan files under ``/etc``, the others under ``/usr/share``."""
    return ("/etc/" if rel.startswith(("OpenCL/", "vulkan/")) else "/usr/share/") + rel


_BIN_DIRS = ("/usr/bin", "/usr/sbin", "/bin", "/sbin", "/usr/local/bin", "/usr/local/sbin")


def _binary(root: str, name: str) -> str | None:
    for bd in _BIN_DIRS:
        p = under_root(root, bd + "/" + name)
        try:
            st = oslite.stat(p)
        except OSError:
            continue
        if oslite.S_IFMT(st.st_mode) == oslite.S_IFREG and st.st_mode & 0o111:
            return p
    return None


def binaries(root: str, log, d: Discovery) -> None:
    for name in ("nvidia-smi", "nvidia-debugdump", "nvidia-persistenced", "nvidia-cuda-mps-control",
                 "nvidia-cuda-mps-server", "nvidia-imex", "nvidia-imex-ctl"):
        p = _binary(root, name)
        if p is None:
            log.warning("Could not locate %s: %s: not found", name, name)
        else:
            d.mounts.append(_mount_file(root, p, log))


def ipc(root: str, log, d: Discovery) -> None:
    for rel in ("/nvidia-persistenced/socket", "/nvidia-fabricmanager/socket"):
        for base in ("/run", "/var/run"):
            p = under_root(root, base + rel)
            if oslite.exists(p) and not oslite.isdir(p):
                d.mounts.append(_mount_file(root, p, log, ipc=True))
                break
        else:
            log.warning("Could not locate %s: %s: not found", rel, rel)
    p = under_root(root, "/tmp/nvidia-mps")
    if oslite.exists(p) and not oslite.isdir(p):
        d.mounts.append(_mount_file(root, p, log, ipc=True))
    else:
        log.warning("Could not locate /tmp/nvidia-mps: /tmp/nvidia-mps: not found")


def firmware(root: str, version: str, log, d: Discovery) -> None:
    release = oslite.uname().release
    dirs = []
    try:
        with open("/sys/module/firmware_class/parameters/path") as f:
            custom = f.read(4096).strip()
        if custom:
            dirs.append(custom)
    except OSError:
        pass
    dirs += [f"/lib/firmware/updates/{release}", "/lib/firmware/updates", f"/lib/firmware/{release}", "/lib/firmware"]
    for fd in dirs:
        found = glob_in(oslite.join(under_root(root, fd), "nvidia", version), "gsp*.bin")
        if found:
            for p in found:
                d.mounts.append(_mount_file(root, p, log))
            return
