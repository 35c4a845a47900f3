"""The create path (runtime.md §2 steps 7-8): find the bundle, load config.json, build the
modifiers of the resolved mode, apply them and write the spec back (only when it changed)."""

from __future__ import annotations

from hook import gocompat
from hook.config import HookConfig

from . import errors, lookup, modify, ocispec


def modify_bundle(bundle: str, config: HookConfig, mode: str, path_env: str, log) -> bool:
    """Modify ``<bundle>/config.json`` for ``mode``; returns True when the file was rewritten.

    Raises :class:`ConstructError` (nothing written) or :class:`ApplyError` (nothing written).
    """
    spec_path = gocompat.join(bundle, "config.json")
    log.info(f"Using OCI specification file path: {spec_path}")
    tree, style = _load(spec_path)
    ctx = modify.Context(
        config, log,
        hook_path=lookup.resolve_tool(config.runtime_hook_path, "nvidia-container-runtime-hook",
                                      "/usr/bin/nvidia-container-runtime-hook", path_env),
        ctk_path=lookup.resolve_tool(config.ctk_path, "nvidia-ctk", "/usr/bin/nvidia-ctk", path_env))
    resolved = modify.resolve_mode(mode, tree, ctx)
    resolved = modify.resolve_mode(resolved, tree, ctx)  # upstream resolves twice (§10)
    mods = modify.modifiers(resolved, tree, ctx)
    changed = False
    for m in mods:
        changed = m(tree) or changed
    if not changed and not style.rewrite:
        return False
    out = ocispec.dumps(tree, style)
    try:
        ocispec.write(spec_path, out)
    except OSError as exc:
        raise errors.ApplyError(f"error writing modified OCI specification: {spec_path}: "
                                f"{gocompat.errno_text(exc.errno)}") from None
    return True


def _load(spec_path: str):
    try:
        return ocispec.load(spec_path)
    except ocispec.SpecFileError as exc:
        raise errors.ConstructError(f"failed to construct OCI spec modifier: failed to load OCI spec: {exc}") from None
