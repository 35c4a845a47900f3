"""``chmod --mode OCTAL --path P ...`` (spec 5.3): paths resolved inside the root."""

from __future__ import annotations

from hook import oslite

from .. import errors


def run(args: list[str], log) -> int:
    from ..hook import parse_flags, read_root
    flags, _ = parse_flags(args, ("mode", "container-spec"), ("path",))
    mode_text = flags.get("mode", "")
    if not mode_text:
        raise errors.HookError("a non-empty mode must be specified")
    try:
        mode = int(mode_text, 8)
        if mode < 0 or mode_text.strip() != mode_text or mode_text[0] in "+-":
            raise ValueError
    except ValueError:
        raise errors.HookError(f'failed to parse mode as octal: strconv.ParseUint: parsing "{mode_text}": '
                               "invalid syntax") from None
    paths = flags["path"]
    if any(not p.strip() for p in paths):
        raise errors.HookError("paths must not be empty")
    root = read_root(flags)
    from ..rootfs import secure_join
    perm = mode & 0o777  # Go's os.FileMode(mode): bits above 0777 are not setuid/setgid/sticky
    last = None
    for p in paths:
        full = secure_join(root, p)
        try:
            st = oslite.stat(full)
        except OSError:
            continue
        if oslite.S_IMODE(st.st_mode) == perm:
            continue
        try:
            oslite.chmod(full, perm)
        except OSError as exc:
            last = f"failed to chmod {p}: {exc.strerror}"
    if last:
        raise errors.HookError(last)
    return 0
