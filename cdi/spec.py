"""CDI spec documents as plain ordered dicts (spec section 1): building blocks, normalisation,
the minimum ``cdiVersion``, validation and serialisation (JSON, and YAML in the reference's layout).

A spec is ``{"cdiVersion", "kind", "devices": [{"name", "containerEdits", "annotations"?}],
"containerEdits"}``; an edits block holds ``env``, ``deviceNodes``, ``hooks``, ``mounts``,
``additionalGids`` (empty ones omitted).
"""

from __future__ import annotations

from hook import oslite
from hook.values import lazy_exception

__all__ = ["SpecError", "device_node", "mount", "merge_edits", "normalise",
           "min_version", "validate", "to_json", "to_yaml", "EDIT_KEYS", "VERSIONS"]

EDIT_KEYS = ("env", "deviceNodes", "hooks", "mounts", "intelRdt", "additionalGids", "netDevices")
VERSIONS = ("0.3.0", "0.4.0", "0.5.0", "0.6.0", "0.7.0", "0.8.0", "1.0.0", "1.1.0")
FILE_OPTIONS = ["ro", "nosuid", "nodev", "rbind", "rprivate"]
IPC_OPTIONS = ["nosuid", "nodev", "rbind", "rprivate", "noexec"]
HOOK_NAMES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


__getattr__ = lazy_exception(globals(), "SpecError", ValueError,
                             "An invalid CDI spec; ``str()`` is the reference's message.")


def _spec_error(message: str) -> Exception:
    return __getattr__("SpecError")(message)


# ----------------------------------------------------------------------------- building blocks

def device_node(path: str, host_path: str, extra_gids: list[int] | None = None,
                path_only: bool = False) -> dict:
    """A device node: numbers, mode and group from ``stat(host_path)`` (section 1)."""
    node: dict = {"path": path}
    if host_path != path:
        node["hostPath"] = host_path
    if path_only:
        return node
    try:
        st = oslite.stat(host_path)
    except OSError:
        return node
    major, minor = oslite.major(st.st_rdev), oslite.minor(st.st_rdev)
    if major:
        node["major"] = major
    if minor:
        node["minor"] = minor
    mode = oslite.S_IMODE(st.st_mode)
    if mode:
        node["fileMode"] = mode
    node["permissions"] = "rwm"
    if st.st_gid:
        node["gid"] = st.st_gid
        if extra_gids is not None and (mode & 0o006) != 0o006:
            extra_gids.append(st.st_gid)
    return node


def mount(host_path: str, container_path: str, ipc: bool = False) -> dict:
    return {"hostPath": host_path, "containerPath": container_path,
            "options": list(IPC_OPTIONS if ipc else FILE_OPTIONS)}


def merge_edits(dst: dict, src: dict) -> dict:
    """Append every entity of ``src`` to ``dst`` (in place; returns ``dst``)."""
    for key in EDIT_KEYS:
        if src.get(key):
            dst.setdefault(key, []).extend(src[key])
    return dst


# ----------------------------------------------------------------------------- normalisation (1.3)

def _dedup(items: list) -> list:
    out: list = []
    for it in items:
        if it not in out:
            out.append(it)
    return out


def _depth_key(path_key: str):
    def key(entity: dict):
        p = oslite.normpath(entity.get(path_key, "")) if entity.get(path_key) else ""
        return (p.count("/"), p)
    return key


def _clean(edits: dict) -> dict:
    out = {}
    for key in EDIT_KEYS:
        if edits.get(key):
            out[key] = _dedup(edits[key])
    if "deviceNodes" in out:
        out["deviceNodes"].sort(key=_depth_key("path"))
    if "mounts" in out:
        out["mounts"].sort(key=_depth_key("containerPath"))
    return out


def normalise(spec: dict) -> dict:
    """De-duplicate, simplify against the common edits and sort (section 1.3), in place."""
    common = _clean(spec.get("containerEdits", {}))
    spec["containerEdits"] = common
    for dev in spec["devices"]:
        edits = _clean(dev.get("containerEdits", {}))
        simplified = {}
        for key, items in edits.items():
            rest = [it for it in items if it not in common.get(key, ())]
            if rest:
                simplified[key] = rest
        dev["containerEdits"] = simplified if simplified else edits
    spec["devices"].sort(key=lambda d: d["name"].encode())
    return spec


# ----------------------------------------------------------------------------- version (1.1)

def _all_edits(spec: dict):
    yield spec.get("containerEdits") or {}
    for d in spec.get("devices") or []:
        yield d.get("containerEdits") or {}


def min_version(spec: dict) -> str:
    edits = list(_all_edits(spec))
    if any(e.get("netDevices") or (e.get("intelRdt") or {}).get("schemata") for e in edits):
        return "1.1.0"
    if any(e.get("intelRdt") or e.get("additionalGids") for e in edits):
        return "0.7.0"
    kind = spec.get("kind", "")
    if spec.get("annotations") or any(d.get("annotations") for d in spec.get("devices") or []) \
            or "." in kind.partition("/")[2]:
        return "0.6.0"
    if any(d.get("name", "")[:1].isdigit() for d in spec.get("devices") or []) \
            or any(n.get("hostPath") for e in edits for n in e.get("deviceNodes") or []):
        return "0.5.0"
    if any(m.get("type") for e in edits for m in e.get("mounts") or []):
        return "0.4.0"
    return "0.3.0"


# ----------------------------------------------------------------------------- validation (8.2)

_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_ALNUM = _LETTERS | frozenset("0123456789")


def _check_qualifier(what: str, name: str) -> None:
    if not name:
        raise _spec_error(f"invalid {what}. empty name")
    if name[0] not in _LETTERS:
        raise _spec_error(f'invalid {what}. "{name}", should start with letter')
    for c in name[1:-1]:
        if c not in _ALNUM and c not in "_-.":
            raise _spec_error(f"invalid {what}. invalid character '{c}' in name \"{name}\"")
    if name[-1] not in _ALNUM:
        raise _spec_error(f'invalid {what}. "{name}", should end with a letter or digit')


def check_vendor(name: str) -> None:
    _check_qualifier("vendor", name)


def check_class(name: str) -> None:
    _check_qualifier("class", name)


def check_device_name(name: str) -> None:
    if not name:
        raise _spec_error("invalid (empty) device name")
    if name[0] not in _ALNUM:
        raise _spec_error(f'invalid name "{name}", should start with letter or digit')
    if len(name) == 1:
        return
    for c in name[1:-1]:
        if c not in _ALNUM and c not in "_-.:":
            raise _spec_error(f"invalid character '{c}' in device name \"{name}\"")
    if name[-1] not in _ALNUM:
        raise _spec_error(f'invalid name "{name}", should end with a letter or digit')


def _check_edits(edits: dict) -> None:
    for e in edits.get("env") or []:
        if "=" not in str(e):
            raise _spec_error(f'invalid environment variable "{e}"')
    for n in edits.get("deviceNodes") or []:
        if not str(n.get("path", "")).startswith("/"):
            raise _spec_error(f'invalid device, "{n.get("path", "")}" is not an absolute path')
    for m in edits.get("mounts") or []:
        if not m.get("hostPath"):
            raise _spec_error("invalid mount, empty host path")
        if not m.get("containerPath"):
            raise _spec_error("invalid mount, empty container path")
    for h in edits.get("hooks") or []:
        if h.get("hookName") not in HOOK_NAMES:
            raise _spec_error(f'invalid hook name "{h.get("hookName")}"')
        if not h.get("path"):
            raise _spec_error("invalid hook, empty path")


def validate(spec: dict) -> None:
    """Raise :class:`SpecError` when ``spec`` is not a valid CDI spec."""
    version = spec.get("cdiVersion", "")
    if version not in VERSIONS:
        raise _spec_error(f'invalid version "{version}"')
    need = min_version(spec)
    if VERSIONS.index(version) < VERSIONS.index(need):
        raise _spec_error(f"the spec version must be at least v{need}")
    vendor, sep, cls = str(spec.get("kind", "")).partition("/")
    if not sep:
        raise _spec_error(f'invalid kind "{spec.get("kind", "")}"')
    check_vendor(vendor)
    check_class(cls)
    _check_edits(spec.get("containerEdits") or {})
    devices = spec.get("devices") or []
    if not devices:
        raise _spec_error("invalid spec, no devices")
    seen = set()
    for d in devices:
        name = d.get("name", "")
        try:
            check_device_name(name)
            if name in seen:
                raise _spec_error(f'invalid spec, multiple device "{name}"')
            edits = d.get("containerEdits") or {}
            if not any(edits.get(k) for k in EDIT_KEYS):
                raise _spec_error("invalid device, empty device edits")
            _check_edits(edits)
        except __getattr__("SpecError") as exc:
            raise _spec_error(f'failed add device "{name}": {exc}') from None
        seen.add(name)


# ----------------------------------------------------------------------------- serialisation (1.2)

_TOP = ("cdiVersion", "kind", "annotations", "devices", "containerEdits")


def _ordered(spec: dict) -> dict:
    out = {k: spec[k] for k in _TOP if spec.get(k) not in (None, [], {})}
    out.setdefault("containerEdits", {})
    return out


def to_json(spec: dict) -> str:
    import json  # writers only: readers (the runtime's cdi mode) need no json/re
    return json.dumps(_ordered(spec), separators=(",", ":"), ensure_ascii=False)


def _scalar(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    s = str(v)
    if s == "" or _needs_quote(s):
        import json
        return json.dumps(s, ensure_ascii=False)
    return s


_RESERVED = {"true", "false", "yes", "no", "on", "off", "null", "~", "y", "n"}


def _needs_quote(s: str) -> bool:
    from .miniyaml import INDICATORS, VALUE_AND_MERGE_KEYS  # not plain to the reader either
    if s.lower() in _RESERVED or s != s.strip() or s in VALUE_AND_MERGE_KEYS:
        return True
    if s[0] in INDICATORS and not (s[0] == "-" and len(s) > 1 and s[1] not in " " and not _numberish(s)):
        return True
    if ": " in s or " #" in s or s.endswith(":") or "\n" in s or "\t" in s:
        return True
    return _numberish(s)


def _numberish(s: str) -> bool:
    try:
        float(s.replace("_", "x"))
        return True
    except ValueError:
        pass
    t = s.lower()
    return t.startswith(("0x", "0o", "+0x")) or t in (".inf", "-.inf", ".nan") or _base60(s) or _timestamp_like(s)


def _base60(s: str) -> bool:
    """A YAML 1.1 sexagesimal number (``1:0`` is 60 to PyYAML): go-yaml quotes these (``isBase60Float``)."""
    head, _, frac = s.lstrip("+-").partition(".")
    parts = head.split(":")
    if len(parts) < 2 or not parts[0] or not parts[0][0].isdigit() or not parts[0].replace("_", "").isdigit():
        return False
    if frac and not frac.replace("_", "").isdigit():
        return False
    return all(1 <= len(p) <= 2 and p.isdigit() and (len(p) == 1 or p[0] in "012345") for p in parts[1:])


def _timestamp_like(s: str) -> bool:
    """``YYYY-...``: a YAML 1.1 timestamp to PyYAML when it goes on as one; always quoted."""
    return len(s) >= 8 and s[:4].isdigit() and s[4] == "-"


def _yaml(v, col: int, child: int, out: list[str], first: str | None = None) -> None:
    """go-yaml v3 layout with indent 4: mapping keys at ``col`` (the first one after ``first``,
    a list dash), nested nodes at ``child``."""
    if isinstance(v, dict):
        for i, (k, x) in enumerate(v.items()):
            lead = first if (i == 0 and first is not None) else " " * col
            if isinstance(x, (dict, list)) and x:
                out.append(f"{lead}{k}:")
                _yaml(x, child, child + 4, out)
            elif isinstance(x, (dict, list)):
                out.append(f"{lead}{k}: {'{}' if isinstance(x, dict) else '[]'}")
            else:
                out.append(f"{lead}{k}: {_scalar(x)}")
    else:
        for x in v:
            dash = " " * col + "- "
            if isinstance(x, dict) and x:
                _yaml(x, col + 2, col + 4, out, first=dash)
            else:
                out.append(dash + _scalar(x))


def to_yaml(spec: dict) -> str:
    out = ["---"]
    _yaml(_ordered(spec), 0, 4, out)
    return "\n".join(out) + "\n"
