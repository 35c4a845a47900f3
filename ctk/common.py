"""Values shared by the runtime engines."""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger("ctk")

DEFAULT_RUNTIME_NAME = "nvidia"
DEFAULT_RUNTIME_PATH = "nvidia-container-runtime"
DEFAULT_RUNTIME_TYPE = "io.containerd.runc.v2"


@dataclass(frozen=True, slots=True)
class Handler:
    """One runtime handler to add: ``name`` running ``path``."""

    name: str
    path: str


@dataclass(frozen=True, slots=True)
class RuntimeOptions:
    """What configure adds: handlers, which one becomes the default, CDI."""

    handlers: tuple[Handler, ...]
    default_name: str
    set_as_default: bool = False
    enable_cdi: bool = False
    runtime_type: str = DEFAULT_RUNTIME_TYPE
    annotation_prefixes: tuple[str, ...] = ()

    @staticmethod
    def single(name: str, path: str, set_as_default: bool = False, enable_cdi: bool = False) -> "RuntimeOptions":
        return RuntimeOptions((Handler(name, path),), name, set_as_default, enable_cdi)

    def is_default(self, h: Handler) -> bool:
        return self.set_as_default and h.name == self.default_name


def template_candidates(default_runtime: str) -> list[str]:
    """Runtimes whose settings a new handler inherits, in order (no de-duplication)."""
    out = []
    if default_runtime and not default_runtime.startswith("nvidia"):
        out.append(default_runtime)
    out += ["runc", "crun"]
    return out


def go_list(names: list[str]) -> str:
    return "[" + " ".join(names) + "]"


def low_level_runtimes(default: str, binary_path) -> list[str]:
    """Binary paths of the default/runc/crun handlers (``binary_path(name)``), de-duplicated, in order."""
    out: list[str] = []
    for c in template_candidates(default):
        p = binary_path(c)
        if p and p not in out:
            out.append(p)
    return out
