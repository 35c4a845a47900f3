"""``create-symlinks --link TARGET::LINK ...`` (spec 5.2): LINK resolved inside the root."""

from __future__ import annotations

from hook import atomicfile, oslite

from .. import errors
from ..rootfs import mkdirs_in


def run(args: list[str], log) -> int:
    from ..hook import parse_flags, read_root
    flags, _ = parse_flags(args, ("container-spec",), ("link",))
    root = read_root(flags)
    seen: set[str] = set()
    for spec in flags["link"]:
        if spec in seen:
            continue
        seen.add(spec)
        parts = spec.split("::")
        if len(parts) != 2:
            raise errors.HookError(f"invalid symlink specification {spec}")
        target, link = parts
        parent = mkdirs_in(root, oslite.dirname(link) or "/")
        name = oslite.basename(link)
        full = oslite.join(parent, name)
        try:
            atomicfile.symlink(target, full)
        except OSError as exc:
            raise errors.HookError(f"failed to create symlink {link}: {exc.strerror}") from None
    return 0
