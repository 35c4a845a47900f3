"""``create-symlinks --link TARGET::LINK ...`` (spec 5.2): LINK resolved inside the root."""

from __future__ import annotations

import os

from ..errors import HookError
from ..rootfs import mkdirs_in


def run(args: list[str], log) -> int:
    from ..hook import parse_flags, read_root
    flags, _ = parse_flags(args, ("container-spec",), ("link",))
    root = read_root(flags)
    from .util import new_uuid
    seen: set[str] = set()
    for spec in flags["link"]:
        if spec in seen:
            continue
        seen.add(spec)
        parts = spec.split("::")
        if len(parts) != 2:
            raise HookError(f"invalid symlink specification {spec}")
        target, link = parts
        parent = mkdirs_in(root, os.path.dirname(link) or "/")
        name = os.path.basename(link)
        full = os.path.join(parent, name)
        try:
            if os.readlink(full) == target:
                continue
        except OSError:
            pass
        tmp = os.path.join(parent, f"{name}-{new_uuid()}")
        try:
            os.symlink(target, tmp)
            os.rename(tmp, full)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise HookError(f"failed to create symlink {link}: {exc.strerror}") from None
    return 0
