"""Reading CDI specs back (spec section 8): strict parsing into the struct order of the CDI
schema, validation, and the spec-folder registry behind ``cdi list`` and the runtime's ``cdi``
mode (later folders win; the same device in two specs of one folder priority is a conflict).

:meth:`Registry.edits_for` resolves fully-qualified names to the ``containerEdits`` to apply, in
the engines' order (spec section 7): a spec's common edits the first time one of its devices is
used, then the device's own.  JSON files are read with :mod:`json`; PyYAML is imported only for a
YAML file (or JSON that only YAML reads)."""

from __future__ import annotations

from hook import oslite

from . import errors
from . import spec as S

__all__ = ["parse_spec", "Registry", "MAX_SPEC", "EXTENSIONS"]

MAX_SPEC = 16 << 20
EXTENSIONS = (".yaml", ".json")


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
        raise errors.CdiError(f"{where}: expected an object")
    out = {}
    for k in value:
        if k not in _ORDER[kind]:
            raise errors.CdiError(f'{where}: unknown field "{k}"')
    for k in _ORDER[kind]:
        if k not in value or value[k] is None:
            continue
        v = value[k]
        child = _CHILD.get((kind, k))
        if child == "edits":
            v = _shape("edits", v, where)
        elif child:
            if not isinstance(v, list):
                raise errors.CdiError(f'{where}: field "{k}" must be a list')
            v = [_shape(child, x, where) for x in v]
        out[k] = v
    return out


def parse_spec(data: bytes, name: str) -> dict:
    """A spec from YAML or JSON bytes, in struct order; raises CdiError when unreadable/invalid."""
    doc = _json(data) if name.endswith(".json") else _NOT_JSON
    if doc is _NOT_JSON:
        doc = _yaml(data, name)
    spec = _shape("spec", doc if doc is not None else {}, name)
    spec.setdefault("devices", [])
    spec.setdefault("containerEdits", {})
    for d in spec["devices"]:
        d.setdefault("containerEdits", {})
        if isinstance(d.get("name"), (int, float)):
            d["name"] = str(d["name"])
    return spec


def _yaml(data: bytes, name: str):
    """YAML ``data``: the generators' block style by :mod:`cdi.miniyaml`, anything else by PyYAML
    (imported only then: its import costs about 10 ms)."""
    from . import miniyaml

    text = data.decode("utf-8", "replace")
    try:
        return miniyaml.loads(text)
    except miniyaml.Unsupported:
        pass
    import yaml
    try:
        return yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # libyaml: ~10x faster
    except yaml.YAMLError:
        try:  # the pure-Python loader's message, as before
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise errors.CdiError(f"failed to parse CDI Spec {name}: {' '.join(str(exc).split())}") from None


_NOT_JSON = object()


def _reject_constant(name):
    raise ValueError(name)


def _json(data: bytes):
    """``data`` as one strict JSON document (what YAML reads the same way), else ``_NOT_JSON``."""
    import sys

    try:
        from _json import make_scanner
        text = data.decode("utf-8")
        start = len(text) - len(text.lstrip(" \t\n\r"))
        # What make_scanner reads from a json.JSONDecoder (importing json imports re), in a
        # SimpleNamespace (the type of sys.implementation): no class of its own.
        context = type(sys.implementation)(strict=True, object_hook=None, object_pairs_hook=None, parse_int=int,
                                           parse_float=float, parse_constant=_reject_constant)
        value, end = make_scanner(context)(text, start)
    except (ImportError, UnicodeDecodeError, StopIteration, ValueError, SystemError, RecursionError):
        return _NOT_JSON  # the C scanner reports syntax errors as SystemError without json.decoder
    return value if not text[end:].strip(" \t\n\r") else _NOT_JSON


class Registry:
    """Every valid spec of ``dirs`` (in priority order, last highest); ``extensions`` are the file
    name endings read."""

    def __init__(self, dirs, extensions: tuple[str, ...] = EXTENSIONS) -> None:
        self.errors: list[tuple[str, list[str]]] = []
        self.devices: dict[str, tuple[int, str]] = {}
        self._specs: dict[str, dict] = {}
        self._edits: dict[str, dict] = {}
        conflicts: set[str] = set()
        for prio, d in enumerate(dirs):
            try:
                names = sorted(oslite.listdir(d))
            except OSError:
                continue
            for n in names:
                if not n.endswith(extensions):
                    continue
                path = oslite.join(d, n)
                try:
                    with open(path, "rb") as f:
                        data = f.read(MAX_SPEC + 1)
                    if len(data) > MAX_SPEC:
                        raise errors.CdiError(f"{path}: larger than {MAX_SPEC} bytes")
                    spec = parse_spec(data, path)
                    S.validate(spec)
                except (errors.CdiError, S.SpecError, OSError) as exc:
                    self.errors.append((path, [str(exc)]))
                    continue
                self._specs[path] = spec
                for dev in spec["devices"]:
                    qname = f"{spec['kind']}={dev['name']}"
                    old = self.devices.get(qname)
                    if old is not None and old[0] == prio:
                        conflicts.add(qname)
                        self.errors.append((path, [f'conflicting device "{qname}" (specs "{old[1]}", "{path}")']))
                        continue
                    self.devices[qname] = (prio, path)
                    self._edits[qname] = dev["containerEdits"]
                    conflicts.discard(qname)  # a higher-priority folder shadows a lower conflict
        for c in conflicts:
            self.devices.pop(c, None)

    def device_names(self) -> list[str]:
        return sorted(self.devices)

    def edits_for(self, names) -> list[dict]:
        """The ``containerEdits`` to apply for the fully-qualified ``names``, in order.  Raises
        :class:`~cdi.errors.UnresolvableError` naming every name that does not resolve; nothing is returned then."""
        missing = [n for n in names if n not in self.devices]
        if missing:
            raise errors.UnresolvableError("unresolvable CDI devices " + ", ".join(missing))
        out: list[dict] = []
        used: set[str] = set()
        for n in names:
            path = self.devices[n][1]
            if path not in used:
                used.add(path)
                out.append(self._specs[path]["containerEdits"])
            out.append(self._edits[n])
        return out
