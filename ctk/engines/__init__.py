"""The container engines ``nvidia-ctk`` configures: one module per runtime, imported lazily.

``get("containerd")`` imports :mod:`ctk.engines.containerd` on first use and returns its
:class:`~ctk.engines.base.Engine`; nothing here imports an engine (or TOML, JSON, logging)
at import time, so ``nvidia-ctk cdi`` / ``nvidia-ctk hook`` never pay for runtime
configuration.  Adding a runtime means adding one module and one line to :data:`MODULES`.
"""

from __future__ import annotations

MODULES = {"containerd": "ctk.engines.containerd", "crio": "ctk.engines.crio",
           "docker": "ctk.engines.docker"}
"""Runtime name -> module defining ``ENGINE`` (an :class:`~ctk.engines.base.Engine`)."""

NAMES = tuple(sorted(MODULES))


def get(name: str):
    """The engine for runtime ``name``; :class:`KeyError` for an unknown name (callers word
    the error: ``runtime configure`` and ``install`` use different reference messages)."""
    from importlib import import_module
    return import_module(MODULES[name]).ENGINE


def find(name: str):
    """The engine for ``name``, or None."""
    return get(name) if name in MODULES else None


__all__ = ["MODULES", "NAMES", "get", "find"]
