"""Paths inside a container root, resolved as if the root were ``/`` (symlinks followed but never
out of the root, ``..`` clamped at the root), and the container root of a hook's OCI state."""

from __future__ import annotations

import errno

from hook import errors as hook_errors
from hook import oslite
from hook import rootfs as _rootfs

from . import errors

__all__ = ["secure_join", "container_root", "mkdirs_in", "MAX_LINKS"]

MAX_LINKS = 255  # filepath-securejoin's limit


def secure_join(root: str, path: str) -> str:
    """``root`` + ``path`` with every symlink of ``path`` resolved inside ``root`` (like
    filepath-securejoin: :func:`hook.rootfs.resolve` keeping missing components).  The last
    component is resolved too when it is a symlink.  Raises :class:`HookError` (:func:`_failed`)."""
    try:
        return _rootfs.resolve(oslite.abspath(root), path, missing_ok=True, max_links=MAX_LINKS)
    except OSError as exc:
        raise _failed("failed to resolve", root, path, exc) from None


def mkdirs_in(root: str, path: str, mode: int = 0o755) -> str:
    """Create ``path`` (and missing parents) inside ``root``; returns the host path.  Raises
    :class:`HookError` (:func:`_failed`; a component that is not a directory is named)."""
    try:
        return _rootfs.makedirs(oslite.abspath(root), path, mode, MAX_LINKS)
    except NotADirectoryError as exc:
        raise errors.HookError(f"{exc.filename} exists and is not a directory") from None
    except OSError as exc:
        raise _failed("failed to create directory", root, path, exc) from None


def _failed(what: str, root: str, path: str, exc: OSError) -> Exception:
    """The one-line :class:`HookError` for ``exc``, met resolving ``path`` inside ``root``: ``too many
    symlinks resolving PATH``, else ``WHAT PATH in ROOT: [FILE: ]TEXT`` (Go's errno text; the host
    file named when it is not the root itself, e.g. a missing root: ``... in /r: no such file or
    directory``)."""
    if exc.errno == errno.ELOOP:
        return errors.HookError(f"too many symlinks resolving {path}")
    from hook.gocompat import errno_text
    host_root = oslite.abspath(root).rstrip("/") or "/"
    where = f"{exc.filename}: " if exc.filename and exc.filename != host_root else ""
    return errors.HookError(f"{what} {path} in {root}: {where}{errno_text(exc.errno)}")


def container_root(stream, name: str = "/dev/stdin") -> str:
    """The container's root folder from the OCI state read from the binary ``stream`` (stdin, or
    the hooks' ``--container-spec`` file, called ``name`` in the errors) and ``<bundle>/config.json``
    (spec section 5).

    Both are read by the hook's readers (:func:`hook.state.read_state`,
    :func:`hook.spec.load_value`: bounded, Go's JSON rules).  A relative ``root.path`` is joined
    to the bundle (Go's ``filepath.Join``).  Raises :class:`HookError` in the reference's wording
    ("failed to load container state: failed to decode container state: ...", "failed to
    determined container root: ..."); an empty bundle or ``root.path`` is refused rather than
    taken as the bundle folder (docs/compatibility.md)."""
    from hook import gocompat
    from hook.spec import load_value, root_path
    from hook.state import read_state

    try:
        state = read_state(stream, name)
    except hook_errors.StateError as exc:
        raise errors.HookError("failed to load container state: failed to decode container state: "
                               f"{exc.detail}") from None
    if not state.bundle:
        raise errors.HookError("failed to determined container root: bundle path is empty")
    try:
        path = root_path(load_value(state.spec_path))
    except hook_errors.SpecError as exc:
        what = "failed to open OCI spec file" if exc.message.startswith("could not open") else "failed to load OCI spec"
        raise errors.HookError(f"failed to determined container root: {what}: {exc.detail}") from None
    if not path:
        raise errors.HookError("failed to determined container root: root.path is empty")
    return path if path.startswith("/") else gocompat.join(state.bundle, path)
