"""The OCI hooks.d JSON that registers the hook with podman and CRI-O (hook.md §10)."""

from __future__ import annotations

import json
import posixpath

from .gocompat import DEFAULT_PATH_DIRS

DEFAULT_HOOK_PATH = "/usr/bin/nvidia-container-runtime-hook"


class HooksdError(ValueError):
    """The hook path cannot be registered (it must be absolute)."""


def hook_document(hook_path: str = DEFAULT_HOOK_PATH) -> dict:
    """The hooks.d document for ``hook_path``, keys in the reference's order.

    Raises :class:`HooksdError` if ``hook_path`` is not absolute.
    """
    if not hook_path.startswith("/"):
        raise HooksdError(f"the hook path must be absolute: {hook_path!r}")
    dirs = list(DEFAULT_PATH_DIRS)
    hook_dir = posixpath.dirname(hook_path)
    if hook_dir not in dirs:
        dirs.append(hook_dir)
    return {
        "version": "1.0.0",
        "hook": {
            "path": hook_path,
            "args": [posixpath.basename(hook_path), "prestart"],
            "env": ["PATH=" + ":".join(dirs)],
        },
        "when": {"always": True, "commands": [".*"]},
        "stages": ["prestart"],
    }


def render(hook_path: str = DEFAULT_HOOK_PATH) -> str:
    """The exact bytes of the reference generator: 2-space indent, Go's HTML escaping, newline."""
    text = json.dumps(hook_document(hook_path), indent=2, ensure_ascii=False)
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return text + "\n"
