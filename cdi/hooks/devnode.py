"""``disable-device-node-modification`` (spec 5.5): hide ``ModifyDeviceFiles: 1`` from the
container by bind-mounting a modified copy of the host's params file over the container's."""

from __future__ import annotations

from hook import oslite

from .. import errors

HOST_PARAMS = "/proc/driver/nvidia/params"
MS_RDONLY, MS_NODEV, MS_REMOUNT, MS_BIND, MS_NOSYMFOLLOW = 1, 4, 32, 4096, 256


def modified(text: str) -> str | None:
    """The params with ModifyDeviceFiles set to 0, or None when nothing is to be done (pure)."""
    lines = text.splitlines()
    if "ModifyDeviceFiles: 1" not in lines:
        return None
    return "".join(("ModifyDeviceFiles: 0" if line == "ModifyDeviceFiles: 1" else line) + "\n" for line in lines)


_libc_mount = None


def _mount(src: str, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    """``mount(2)``; raises OSError.  Through ``_ctypes``, as ``ctypes.CDLL(None, use_errno=True).mount``
    with its argument types declared: the ``ctypes`` package imports ``os`` and creates some fifty classes
    (about 2 ms, docs/performance.md), and this path runs on every host whose driver modifies device files."""
    global _libc_mount
    from _ctypes import get_errno
    if _libc_mount is None:
        from _ctypes import FUNCFLAG_CDECL, FUNCFLAG_USE_ERRNO, CFuncPtr, _SimpleCData, dlopen

        class CInt(_SimpleCData):
            _type_ = "i"

        class CULong(_SimpleCData):
            _type_ = "L"

        class CCharP(_SimpleCData):  # bytes or None (NULL)
            _type_ = "z"

        class Mount(CFuncPtr):
            _flags_ = FUNCFLAG_CDECL | FUNCFLAG_USE_ERRNO
            _restype_ = CInt
            _argtypes_ = (CCharP, CCharP, CCharP, CULong, CCharP)

        class Process:  # what CFuncPtr looks a symbol up in: the handle of dlopen(NULL), as ctypes.CDLL(None)
            _handle = dlopen(None)

        _libc_mount = Mount(("mount", Process()))
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    if _libc_mount(enc(src), enc(dst), enc(fstype), flags, enc(data)) != 0:
        err = get_errno()
        raise OSError(err, oslite.strerror(err))


def run(args: list[str], log) -> int:
    from ..hook import parse_flags, read_root
    flags, _ = parse_flags(args, ("container-spec",))
    root = read_root(flags)
    try:
        with open(HOST_PARAMS) as f:
            text = f.read(1 << 16)
    except OSError:
        return 0
    new = modified(text)
    if new is None:
        return 0
    from ..rootfs import mkdirs_in, secure_join
    from .util import new_uuid, write_new
    scratch = mkdirs_in(root, "/run/nvidia-ctk-hook" + new_uuid())
    try:
        _mount("tmpfs", scratch, "tmpfs", MS_NODEV, "size=64k,mode=0755")
        write_new(oslite.join(scratch, "nvct-params"), new.encode(), 0o444)
    except OSError as exc:
        raise errors.HookError(f"failed to create tmpfs for modified params file: {exc.strerror}") from None
    target = secure_join(root, HOST_PARAMS)
    try:
        fd = oslite.open(target, oslite.O_PATH | oslite.O_NOFOLLOW | oslite.O_CLOEXEC)
    except OSError as exc:
        raise errors.HookError(f"failed to mount modified params file: open o_path procfd: open {target}: "
                               f"{exc.strerror.lower()}") from None
    try:
        dst = f"/proc/self/fd/{fd}"
        _mount(oslite.join(scratch, "nvct-params"), dst, None, MS_BIND)
        _mount("", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NODEV | MS_NOSYMFOLLOW)
    except OSError as exc:
        raise errors.HookError(f"failed to mount modified params file: {exc.strerror}") from None
    finally:
        oslite.close(fd)
    return 0
