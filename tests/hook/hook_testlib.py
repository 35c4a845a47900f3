"""Builders for hook unit tests: specs, configs and mounts as plain values."""

from __future__ import annotations

from hook.config import HookConfig
from hook.gojson import Obj
from hook.spec import Mount, Spec
from paths import FIXTURES, ROOT  # noqa: F401  (re-exported to the hook tests)

R = "/var/run/nvidia-container-devices"
ALL7 = ("compat32", "compute", "display", "graphics", "ngx", "utility", "video")
DEF = ("compute", "utility")


def make_spec(env=(), privileged=False, mounts=(), version="1.0.0", root="rootfs") -> Spec:
    caps = Obj([("bounding", ["CAP_SYS_ADMIN" if privileged else "CAP_CHOWN"])])
    return Spec(oci_version=version, env=tuple(env), capabilities=caps, root_path=root,
                mounts=tuple(mounts))


def dev_mounts(*names: str, source: str = "/dev/null") -> list[Mount]:
    return [Mount(destination=f"{R}/{n}", source=source) for n in names]


def config(**kw) -> HookConfig:
    return HookConfig(**kw)
