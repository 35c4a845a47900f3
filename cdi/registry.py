"""Reading CDI specs back (spec section 8): strict parsing into the struct order of the CDI
schema, validation, and the spec-folder registry behind ``cdi list`` (later folders win; the same
device in two specs of one folder priority is a conflict)."""

from __future__ import annotations

import os

from . import spec as S
from .errors import CdiError

__all__ = ["parse_spec", "Registry", "MAX_SPEC"]

MAX_SPEC = 16 << 20

_ORDER = {
    "spec": ("cdiVersion", "kind", "annotations", "devices", "containerEdits"),
    "device": ("name", "annotations", "containerEdits"),
    "edits": ("env", "deviceNodes", "hooks", "mounts", "intelRdt", "additionalGids", "netDevices"),
    "node": ("path", "hostPath", "type", "major", "minor", "fileMode", "permissions", "uid", "gid"),
    "mount": ("hostPath", "containerPath", "type", "options"),
    "hook": ("hookName", "path", "args", "env", "timeout"),
}
_CHILD = {("spec", "devices"): "device", ("spec", "containerEdits"): "edits", ("device", "containerEdits"): "edits",
          ("edits", "deviceNodes"): "node", ("edits", "mounts"): "mount", ("edits", "hooks"): "hook"}


def _shape(kind: str, value, where: str):
    if not isinstance(value, dict):
        raise CdiError(f"{where}: expected an object")
    out = {}
    for k in value:
        if k not in _ORDER[kind]:
            raise CdiError(f'{where}: unknown field "{k}"')
    for k in _ORDER[kind]:
        if k not in value or value[k] is None:
            continue
        v = value[k]
        child = _CHILD.get((kind, k))
        if child == "edits":
            v = _shape("edits", v, where)
        elif child:
            if not isinstance(v, list):
                raise CdiError(f'{where}: field "{k}" must be a list')
            v = [_shape(child, x, where) for x in v]
        out[k] = v
    return out


def parse_spec(data: bytes, name: str) -> dict:
    """A spec from YAML or JSON bytes, in struct order; raises CdiError when unreadable/invalid."""
    import yaml  # only where YAML is read
    try:
        doc = yaml.safe_load(data.decode("utf-8", "replace"))
    except yaml.YAMLError as exc:
        raise CdiError(f"failed to parse CDI Spec {name}: {' '.join(str(exc).split())}") from None
    spec = _shape("spec", doc if doc is not None else {}, name)
    spec.setdefault("devices", [])
    spec.setdefault("containerEdits", {})
    for d in spec["devices"]:
        d.setdefault("containerEdits", {})
        if isinstance(d.get("name"), (int, float)):
            d["name"] = str(d["name"])
    return spec


class Registry:
    """Every valid spec of ``dirs`` (in priority order, last highest)."""

    def __init__(self, dirs) -> None:
        self.errors: list[tuple[str, list[str]]] = []
        self.devices: dict[str, tuple[int, str]] = {}
        conflicts: set[str] = set()
        for prio, d in enumerate(dirs):
            try:
                names = sorted(os.listdir(d))
            except OSError:
                continue
            for n in names:
                if not n.endswith((".yaml", ".json")):
                    continue
                path = os.path.join(d, n)
                try:
                    with open(path, "rb") as f:
                        spec = parse_spec(f.read(MAX_SPEC), path)
                    S.validate(spec)
                except (CdiError, S.SpecError, OSError) as exc:
                    self.errors.append((path, [str(exc)]))
                    continue
                for dev in spec["devices"]:
                    qname = f"{spec['kind']}={dev['name']}"
                    old = self.devices.get(qname)
                    if old is not None and old[0] == prio:
                        conflicts.add(qname)
                        self.errors.append((path, [f'conflicting device "{qname}" (specs "{old[1]}", "{path}")']))
                        continue
                    self.devices[qname] = (prio, path)
                    conflicts.discard(qname)  # a higher-priority folder shadows a lower conflict
        for c in conflicts:
            self.devices.pop(c, None)

    def device_names(self) -> list[str]:
        return sorted(self.devices)
