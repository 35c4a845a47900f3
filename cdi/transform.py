"""``cdi transform root`` (spec section 4): rewrite a path prefix on the host or container side."""

from __future__ import annotations

import os

__all__ = ["root", "rewrite"]


def rewrite(path: str, old: str, new: str) -> str:
    """``path`` with the prefix ``old`` (whole components) replaced by ``new``."""
    base = old.rstrip("/") or "/"
    if path == base or path.startswith(base if base.endswith("/") else base + "/"):
        rest = path[len(base):].lstrip("/")
        return os.path.normpath(os.path.join(new or "/", rest))
    return path


def root(spec: dict, old: str, new: str, relative_to: str) -> dict:
    """Rewrite ``spec`` in place (host side: hostPaths and hook paths; container side: paths,
    containerPaths and hook arguments)."""
    edits = [spec.get("containerEdits") or {}] + [d.get("containerEdits") or {} for d in spec["devices"]]
    for e in edits:
        for n in e.get("deviceNodes") or []:
            if relative_to == "host":
                n["hostPath"] = rewrite(n.get("hostPath") or n["path"], old, new)
            else:
                host = n.get("hostPath") or n["path"]
                n["path"] = rewrite(n["path"], old, new)
                if "hostPath" in n or host != n["path"]:
                    n["hostPath"] = host
                    n.update({k: n.pop(k) for k in list(n) if k not in ("path", "hostPath")})
        for m in e.get("mounts") or []:
            key = "hostPath" if relative_to == "host" else "containerPath"
            m[key] = rewrite(m[key], old, new)
        for h in e.get("hooks") or []:
            if relative_to == "host":
                h["path"] = rewrite(h["path"], old, new)
            else:
                h["args"] = [rewrite(a, old, new) if a.startswith("/") else a for a in h.get("args") or []]
    for e in edits:
        for n in e.get("deviceNodes") or []:
            if "hostPath" in n:
                ordered = {"path": n.pop("path"), "hostPath": n.pop("hostPath")}
                ordered.update(n)
                n.clear()
                n.update(ordered)
    return spec
