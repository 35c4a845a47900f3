"""Paths inside a container root, resolved as if the root were ``/`` (symlinks followed but never
out of the root, ``..`` clamped at the root), and the container root of a hook's OCI state."""

from __future__ import annotations

import errno
import os

from hook import rootfs as _rootfs

from .errors import HookError

__all__ = ["secure_join", "container_root", "mkdirs_in", "MAX_LINKS"]

MAX_LINKS = 255  # filepath-securejoin's limit


def secure_join(root: str, path: str) -> str:
    """``root`` + ``path`` with every symlink of ``path`` resolved inside ``root`` (like
    filepath-securejoin: :func:`hook.rootfs.resolve` keeping missing components).  The last
    component is resolved too when it is a symlink."""
    try:
        return _rootfs.resolve(os.path.abspath(root), path, missing_ok=True, max_links=MAX_LINKS)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise HookError(f"too many symlinks resolving {path}") from None
        raise


def mkdirs_in(root: str, path: str, mode: int = 0o755) -> str:
    """Create ``path`` (and missing parents) inside ``root``; returns the host path."""
    try:
        return _rootfs.makedirs(os.path.abspath(root), path, mode, MAX_LINKS)
    except NotADirectoryError as exc:
        raise HookError(f"{exc.filename} exists and is not a directory") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise HookError(f"too many symlinks resolving {path}") from None
        raise


def container_root(stdin_data: bytes) -> str:
    """The container's root folder from the OCI state (stdin) and ``<bundle>/config.json``."""
    from hook import gojson
    try:
        state = gojson.decode_first(stdin_data)
        if not isinstance(state, gojson.Obj):
            raise gojson.DecodeError("json: cannot unmarshal into Go value of type specs.State")
        bundle = gojson.as_string(gojson.fields(state, ("bundle",)).get("bundle", []), "", "bundle")
    except gojson.DecodeError as exc:
        raise HookError(f"failed to load container state: failed to decode container state: {exc}") from None
    cfg_path = os.path.join(bundle, "config.json")
    try:
        with open(cfg_path, "rb") as f:
            data = f.read(1 << 24)
        cfg = gojson.decode_first(data)
        root_obj = gojson.fields(cfg, ("root",)).get("root", [None])[-1] if isinstance(cfg, gojson.Obj) else None
        path = gojson.as_string(gojson.fields(root_obj, ("path",)).get("path", []), "", "root.path") \
            if isinstance(root_obj, gojson.Obj) else ""
    except OSError as exc:
        raise HookError(f"failed to load OCI spec: open {cfg_path}: {exc.strerror}") from None
    except gojson.DecodeError as exc:
        raise HookError(f"failed to load OCI spec: {exc}") from None
    if not path:
        raise HookError("failed to determine container root: root.path is empty")
    return path if path.startswith("/") else os.path.join(bundle, path)
