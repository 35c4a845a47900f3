"""``enable-cuda-compat`` (spec 5.4): prefer the image's CUDA forward-compatibility libcuda."""

from __future__ import annotations

from hook import oslite

DEFAULT_ROOT = "/usr/local/cuda/compat"


def parse_version(text: str) -> tuple[int, ...] | None:
    """A lenient semantic version (``550.54.14``, ``12.4``), or None."""
    parts = text.split(".")
    if not text or len(parts) > 3 or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts) + (0,) * (3 - len(parts))


def use_compat(compat: str, host_driver: str, host_cuda: str, note: dict | None, log) -> bool:
    """The decision of spec 5.4 (pure)."""
    drv = parse_version(host_driver)
    if drv is None:
        log.warning(f'failed to parse host driver version "{host_driver}": invalid semantic version')
    cuda = parse_version(host_cuda)
    if cuda is None:
        log.warning(f'failed to parse host CUDA version "{host_cuda}": invalid semantic version')
    cv = parse_version(compat)
    if note is not None:
        if cv is not None and drv is not None:
            return drv[0] in [d for d in note.get("Driver") or [] if isinstance(d, int)] and cv > drv
        nv = parse_version(str(note.get("CUDA Version", "")))
        return nv is not None and cuda is not None and nv > cuda
    if host_cuda:
        return False
    return cv is not None and drv is not None and drv[0] < cv[0]


def run(args: list[str], log) -> int:
    from ..hook import parse_flags, read_root
    flags, _ = parse_flags(args, ("host-driver-version", "host-cuda-version", "cuda-compat-container-root",
                                  "container-spec"))
    driver, cuda = flags.get("host-driver-version", ""), flags.get("host-cuda-version", "")
    if not driver and not cuda:
        return 0
    root = read_root(flags)
    from ..rootfs import mkdirs_in, secure_join
    croot = flags.get("cuda-compat-container-root") or DEFAULT_ROOT
    folder = secure_join(root, croot)
    if not oslite.isdir(folder):
        return 0
    from ..pathmatch import glob_in
    libs = glob_in(folder, "libcuda.so.*.*")
    if not libs:
        return 0
    from hook.gocompat import strip_root
    inside = strip_root(root, folder)
    if len(libs) > 1:
        shown = " ".join(oslite.join(inside, oslite.basename(p)) for p in libs)
        log.warning(f"Unexpected number of CUDA compat libraries in container: [{shown}]")
        return 0
    compat = oslite.basename(libs[0])[len("libcuda.so."):]
    note = _note(libs[0])
    if not use_compat(compat, driver, cuda, note, log):
        return 0
    from .util import new_uuid, write_new
    conf = mkdirs_in(root, "/etc/ld.so.conf.d")
    write_new(oslite.join(conf, f"00-compat-{new_uuid()}.conf"), (inside + "\n").encode(), 0o644)
    return 0


def _note(path: str) -> dict | None:
    from ..elf import cuda_note
    desc = cuda_note(path)
    if desc is None:
        return None
    from hook import gojson
    try:
        obj = gojson.decode_first(desc)
    except gojson.DecodeError:
        return None
    if not isinstance(obj, gojson.Obj):
        return None
    out: dict = {}
    for k, v in obj:
        if isinstance(v, list):
            v = [int(x) if isinstance(x, gojson.Number) and x.isdigit() else x for x in v]
        out[k] = v
    return out
