"""``update-application-profile`` (spec 5.6): EGLVisibleDGPUDevices from the root's /dev/nvidiaN."""

from __future__ import annotations

from hook import oslite

RC_DIR = "/etc/nvidia/nvidia-application-profiles-rc.d"


def run(args: list[str], log) -> int:
    from ..hook import parse_flags, read_root
    flags, _ = parse_flags(args, ("container-spec",))
    root = read_root(flags)
    from ..rootfs import mkdirs_in, secure_join
    dev = secure_join(root, "/dev")
    mask = 0
    try:
        names = sorted(oslite.listdir(dev))
    except OSError:
        names = []
    for n in names:
        if not n.startswith("nvidia") or not n[6:].isdigit():
            continue
        try:
            st = oslite.lstat(oslite.join(dev, n))
        except OSError:
            continue
        if oslite.S_IFMT(st.st_mode) != oslite.S_IFCHR:
            continue
        minor = oslite.minor(st.st_rdev)
        if minor >= 64:
            log.warning(f"dropping invalid minor number {minor}: must be in range [0, 63]")
            continue
        mask |= 1 << minor
    if not mask:
        return 0
    folder = mkdirs_in(root, RC_DIR, 0o555)
    from .util import write_new
    text = ('{"profiles":[{"name":"_container_","settings":["EGLVisibleDGPUDevices",0x%x]}],'
            '"rules":[{"pattern":[],"profile":"_container_"}]}' % mask)
    write_new(oslite.join(folder, "10-container.conf"), text.encode(), 0o444)
    return 0
