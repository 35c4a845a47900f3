"""The devices a container asks for, as the shim reads them from the spec (runtime.md §9).

The same image model as the hook (:mod:`hook.image`): environment variables, swarm resources,
``void``/``none``/``all``, legacy CUDA images, ``/dev/null`` volume mounts; plus the CDI
annotations of cdi mode.  Pure functions over the decoded spec tree.
"""

from __future__ import annotations

from hook import image
from hook.config import HookConfig
from hook.gojson import Obj
from hook.spec import Mount

from . import ocispec


def env_list(tree: Obj) -> list[str]:
    process = ocispec.member(tree, "process")
    if not isinstance(process, Obj):
        return []
    return [e or "" for e in (ocispec.member(process, "env") or [])]


def privileged(tree: Obj) -> bool:
    """``CAP_SYS_ADMIN`` in ``process.capabilities.bounding`` (the runtime's rule)."""
    process = ocispec.member(tree, "process")
    caps = ocispec.member(process, "capabilities") if isinstance(process, Obj) else None
    bounding = ocispec.member(caps, "bounding") if isinstance(caps, Obj) else None
    return "CAP_SYS_ADMIN" in (bounding or [])


def env_map(tree: Obj) -> dict[str, str]:
    """The container's environment.  Raises :class:`hook.errors.ImageError` for an entry without ``=``."""
    return image.env_map(env_list(tree))


def requested(tree: Obj, config: HookConfig, annotation_prefixes: tuple[str, ...]) -> list[str]:
    """The requested device names, first non-empty source wins (§9).

    Raises :class:`hook.errors.ImageError` for an environment entry without ``=``.
    """
    env = env_map(tree)
    if annotation_prefixes:
        found = _from_annotations(ocispec.member(tree, "annotations"), annotation_prefixes)
        if found:
            return found
    if config.accept_volume_mounts:
        found = list(image.mount_requests(mounts(tree)).devices)
        if found:
            return found
    names = image.device_variables(env, config.swarm_resource)
    ids = image.devices_from_env(env, names, image.is_legacy(env))
    if ids is None:
        return []
    if not config.accept_envvar_unprivileged and not privileged(tree):
        return []
    return list(ids)


def _from_annotations(annotations, prefixes: tuple[str, ...]) -> list[str]:
    if not isinstance(annotations, Obj):
        return []
    values = {}
    for key, value in annotations:
        if isinstance(value, str) and any(key.startswith(p) for p in prefixes):
            values[key] = value
    out: list[str] = []
    for key in sorted(values):
        out.extend(values[key].split(","))
    return out


def mounts(tree: Obj) -> list[Mount]:
    """The spec's mounts as the hook's :class:`hook.spec.Mount` values (volume-mount requests)."""
    out = []
    for m in ocispec.member(tree, "mounts") or []:
        if isinstance(m, Obj):
            out.append(Mount(destination=ocispec.member(m, "destination") or "",
                             source=ocispec.member(m, "source") or ""))
    return out
