"""The bundle's ``config.json``, edited in place (runtime.md §7, §14.1-§14.2).

:func:`load` decodes the first JSON value of the file into a tree (objects are
:class:`hook.gojson.Obj` lists of key/value pairs, numbers :class:`hook.gojson.Number` keeping their
text), checks the types of every member the OCI runtime-spec 1.3.0 defines (a runtime would refuse
those errors too) and accepts unknown members.  The modifiers change only what they must through
the helpers below; :func:`dumps` writes the same tree back, every other member, key order, number
spelling and indentation kept, and :func:`write` replaces the file atomically.
"""

from __future__ import annotations

from hook import gojson, oslite
from hook.gojson import Number, Obj
from hook.values import lazy_exception

# --- the runtime-spec 1.3.0 types (specs-go/config.go) --------------------------------------------
# "s" string, "b" bool, "u8".."i64" integers, "ss" []string, "ms" map[string]string, "any" not
# checked (non-Linux sections); (Name, {member: type}) a struct; [T] a list; ("map", T) a map.

_INT = {"u8": (0, 0xFF), "u16": (0, 0xFFFF), "u32": (0, 0xFFFFFFFF), "u64": (0, 0xFFFFFFFFFFFFFFFF),
        "i32": (-(1 << 31), (1 << 31) - 1), "i64": (-(1 << 63), (1 << 63) - 1)}
_GO = {"u8": "uint8", "u16": "uint16", "u32": "uint32", "u64": "uint64", "i32": "int32", "i64": "int64"}

_IDMAP = ("LinuxIDMapping", {"containerID": "u32", "hostID": "u32", "size": "u32"})
_HOOK = ("Hook", {"path": "s", "args": "ss", "env": "ss", "timeout": "i64"})
_THROTTLE = ("LinuxThrottleDevice", {"major": "i64", "minor": "i64", "rate": "u64"})
_SPEC = ("Spec", {
    "ociVersion": "s",
    "process": ("Process", {
        "terminal": "b",
        "consoleSize": ("Box", {"height": "u64", "width": "u64"}),
        "user": ("User", {"uid": "u32", "gid": "u32", "umask": "u32", "additionalGids": ["u32"], "username": "s"}),
        "args": "ss", "commandLine": "s", "env": "ss", "cwd": "s",
        "capabilities": ("LinuxCapabilities", {k: "ss" for k in
                                               ("bounding", "effective", "inheritable", "permitted", "ambient")}),
        "rlimits": [("POSIXRlimit", {"type": "s", "hard": "u64", "soft": "u64"})],
        "noNewPrivileges": "b", "apparmorProfile": "s", "oomScoreAdj": "i64", "selinuxLabel": "s",
        "ioPriority": ("LinuxIOPriority", {"class": "s", "priority": "i64"}),
        "scheduler": ("Scheduler", {"policy": "s", "nice": "i32", "priority": "i32", "flags": "ss",
                                    "runtime": "u64", "deadline": "u64", "period": "u64"}),
        "execCPUAffinity": ("CPUAffinity", {"initial": "s", "final": "s"}),
    }),
    "root": ("Root", {"path": "s", "readonly": "b"}),
    "hostname": "s", "domainname": "s",
    "mounts": [("Mount", {"destination": "s", "type": "s", "source": "s", "options": "ss",
                          "uidMappings": [_IDMAP], "gidMappings": [_IDMAP]})],
    "hooks": ("Hooks", {k: [_HOOK] for k in ("prestart", "createRuntime", "createContainer",
                                             "startContainer", "poststart", "poststop")}),
    "annotations": "ms",
    "linux": ("Linux", {
        "uidMappings": [_IDMAP], "gidMappings": [_IDMAP], "sysctl": "ms",
        "resources": ("LinuxResources", {
            "devices": [("LinuxDeviceCgroup", {"allow": "b", "type": "s", "major": "i64", "minor": "i64",
                                               "access": "s"})],
            "memory": ("LinuxMemory", {k: "i64" for k in ("limit", "reservation", "swap", "kernel", "kernelTCP")}
                       | {"swappiness": "u64", "disableOOMKiller": "b", "useHierarchy": "b",
                          "checkBeforeUpdate": "b"}),
            "cpu": ("LinuxCPU", {"shares": "u64", "quota": "i64", "burst": "u64", "period": "u64",
                                 "realtimeRuntime": "i64", "realtimePeriod": "u64", "cpus": "s", "mems": "s",
                                 "idle": "i64"}),
            "pids": ("LinuxPids", {"limit": "i64"}),
            "blockIO": ("LinuxBlockIO", {
                "weight": "u16", "leafWeight": "u16",
                "weightDevice": [("LinuxWeightDevice", {"major": "i64", "minor": "i64", "weight": "u16",
                                                        "leafWeight": "u16"})],
                "throttleReadBpsDevice": [_THROTTLE], "throttleWriteBpsDevice": [_THROTTLE],
                "throttleReadIOPSDevice": [_THROTTLE], "throttleWriteIOPSDevice": [_THROTTLE]}),
            "hugepageLimits": [("LinuxHugepageLimit", {"pageSize": "s", "limit": "u64"})],
            "network": ("LinuxNetwork", {"classID": "u32",
                                         "priorities": [("LinuxInterfacePriority", {"name": "s", "priority": "u32"})]}),
            "rdma": ("map", ("LinuxRdma", {"hcaHandles": "u32", "hcaObjects": "u32"})),
            "unified": "ms",
        }),
        "cgroupsPath": "s",
        "namespaces": [("LinuxNamespace", {"type": "s", "path": "s"})],
        "devices": [("LinuxDevice", {"path": "s", "type": "s", "major": "i64", "minor": "i64", "fileMode": "u32",
                                     "uid": "u32", "gid": "u32"})],
        "netDevices": ("map", ("LinuxNetDevice", {"name": "s"})),
        "seccomp": ("LinuxSeccomp", {
            "defaultAction": "s", "defaultErrnoRet": "u32", "architectures": "ss", "flags": "ss",
            "listenerPath": "s", "listenerMetadata": "s",
            "syscalls": [("LinuxSyscall", {"names": "ss", "action": "s", "errnoRet": "u32",
                                           "args": [("LinuxSeccompArg", {"index": "u64", "value": "u64",
                                                                         "valueTwo": "u64", "op": "s"})]})]}),
        "rootfsPropagation": "s", "maskedPaths": "ss", "readonlyPaths": "ss", "mountLabel": "s",
        "intelRdt": "any", "memoryPolicy": ("LinuxMemoryPolicy", {"mode": "s", "nodes": "s", "flags": "ss"}),
        "personality": ("LinuxPersonality", {"domain": "s", "flags": "ss"}),
        "timeOffsets": ("map", ("LinuxTimeOffset", {"secs": "i64", "nanosecs": "u32"})),
    }),
    "solaris": "any", "windows": "any", "vm": "any", "zos": "any", "freebsd": "any",
})


__getattr__ = lazy_exception(globals(), "SpecFileError", ValueError,
                             "config.json cannot be opened, read or decoded; ``str()`` is upstream's wording (§7.1).")


def load(path: str) -> tuple[Obj, "Style"]:
    """Read and decode ``path`` (§7.1): the tree and the file's layout.  A ``null`` document is an
    empty spec.

    Raises :class:`SpecFileError`.
    """
    from hook.gocompat import errno_text

    try:
        fd = oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC)
    except (OSError, ValueError) as exc:
        raise __getattr__("SpecFileError")(f"error opening OCI specification file: open {path}: "
                                           f"{errno_text(getattr(exc, 'errno', None))}") from None
    prefix = "error loading OCI specification from file: error reading OCI specification: "
    try:
        chunks = []
        while True:
            chunk = oslite.read(fd, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError as exc:
        raise __getattr__("SpecFileError")(prefix + f"read {path}: {errno_text(exc.errno)}") from None
    finally:
        oslite.close(fd)
    data = b"".join(chunks)
    try:
        tree = gojson.decode_first(data)
        renamed = check(tree)
    except gojson.DecodeError as exc:
        raise __getattr__("SpecFileError")(prefix + str(exc)) from None
    style = detect_style(data)
    # A ``null`` document (an empty spec to Go) and renamed members are written back even when no
    # modifier changes anything, so that the file says what the runtime reads.
    style.rewrite = tree is None or bool(renamed)
    return (Obj() if tree is None else tree), style


def check(tree) -> list[str]:
    """Type-check the members the runtime-spec defines; unknown members are accepted (§14.2).
    Members spelled in another case (``"Process"``) get the spec's spelling; returns their names.

    Raises :class:`hook.gojson.DecodeError` with Go's wording.
    """
    renamed: list[str] = []
    _check(tree, _SPEC, "value", "", renamed)
    return renamed


_FOLDED: dict[int, dict[str, str]] = {}


def _folded(members: dict) -> dict[str, str]:
    """Folded member name -> the runtime-spec's spelling (Go matches member names case-insensitively)."""
    table = _FOLDED.get(id(members))
    if table is None:
        table = _FOLDED[id(members)] = {k.lower(): k for k in members}
    return table


def _check(value, kind, struct: str, path: str, renamed: list) -> None:
    if value is None or kind == "any":
        return
    where = f"struct field {struct}.{path}" if path else "value"
    if isinstance(kind, tuple):
        if kind[0] == "map":
            if not isinstance(value, Obj):
                raise gojson.type_error(value, where, "map[string]...")
            for _, v in value:
                _check(v, kind[1], struct, path, renamed)
            return
        name, members = kind
        if not isinstance(value, Obj):
            raise gojson.type_error(value, where, "specs." + name)
        folded = _folded(members)
        for i, (key, v) in enumerate(value):
            canonical = folded.get(gojson.fold(key))
            if canonical is not None:
                _check(v, members[canonical], name, f"{path}.{canonical}" if path else canonical, renamed)
                if key != canonical:  # "Process": runc reads it as "process"; written with the spec's name
                    value[i] = (canonical, v)
                    renamed.append(key)
        return
    if isinstance(kind, list):
        if not isinstance(value, list) or isinstance(value, Obj):
            raise gojson.type_error(value, where, "[]" + _goname(kind[0]))
        for item in value:
            _check(item, kind[0], struct, path, renamed)
        return
    if kind == "s":
        if type(value) is not str:
            raise gojson.type_error(value, where, "string")
    elif kind == "b":
        if value is not True and value is not False:
            raise gojson.type_error(value, where, "bool")
    elif kind == "ss":
        gojson.as_string_list(value, where)
    elif kind == "ms":
        if not isinstance(value, Obj):
            raise gojson.type_error(value, where, "map[string]string")
        for _, v in value:
            if v is not None and type(v) is not str:
                raise gojson.type_error(v, where, "string")
    else:
        gojson.as_int(value, where, _GO[kind], *_INT[kind])


def _goname(kind) -> str:
    if isinstance(kind, tuple):
        return "specs." + kind[0] if kind[0] != "map" else "map[string]..."
    return {"s": "string", "b": "bool", "ss": "[]string", "ms": "map[string]string"}.get(kind) or _GO.get(kind, "any")


# --- editing -------------------------------------------------------------------------------------

def member(obj: Obj, name: str):
    """The value of member ``name`` (matched case-insensitively, the last one wins), or None.

    A key of another length is no match (folding never shortens a key, and what it lengthens is not
    ASCII, as every field name is), so most keys are never folded."""
    want = name.lower()
    found = None
    for key, value in obj:
        if len(key) == len(want) and gojson.fold(key) == want:
            found = value
    return found


def set_member(obj: Obj, name: str, value) -> None:
    """Replace the value of member ``name`` (the last one that matches), or append it."""
    want = name.lower()
    for i in range(len(obj) - 1, -1, -1):
        key = obj[i][0]
        if len(key) == len(want) and gojson.fold(key) == want:
            obj[i] = (key, value)
            return
    obj.append((name, value))


def child(obj: Obj, name: str) -> Obj:
    """Member ``name`` as an object, created (or replacing ``null``) when absent."""
    value = member(obj, name)
    if not isinstance(value, Obj):
        value = Obj()
        set_member(obj, name, value)
    return value


def array(obj: Obj, name: str) -> list:
    """Member ``name`` as a list, created (or replacing ``null``) when absent."""
    value = member(obj, name)
    if value is None:
        value = []
        set_member(obj, name, value)
    return value


def to_tree(value):
    """A plain Python value (dicts, lists, ints) as a tree of :class:`Obj` and :class:`Number`."""
    if isinstance(value, dict):
        return Obj((k, to_tree(v)) for k, v in value.items())
    if isinstance(value, list):
        return [to_tree(v) for v in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return Number(str(value))
    return value


def to_plain(value):
    """The tree as plain Python values (objects as dicts, numbers as int or float)."""
    if isinstance(value, Obj):
        return {k: to_plain(v) for k, v in value}
    if isinstance(value, list):
        return [to_plain(v) for v in value]
    if isinstance(value, Number):
        text = str(value)
        return float(text) if any(c in text for c in ".eE") else int(text)
    return value


# --- writing -------------------------------------------------------------------------------------

class Style:
    """The layout of the original file: indentation unit (None: one line) and trailing newline."""

    __slots__ = ("indent", "newline", "rewrite")

    def __init__(self, indent: str | None, newline: bool) -> None:
        self.indent = indent
        self.newline = newline
        self.rewrite = False


def detect_style(data: bytes) -> Style:
    text = data.decode("utf-8", "replace").strip(" \t\r\n")
    newline = data.rstrip(b" \t").endswith(b"\n")
    i = text.find("\n")
    if i < 0:
        return Style(None, newline)
    j = i + 1
    while j < len(text) and text[j] in " \t":
        j += 1
    return Style(text[i + 1:j] or "  ", newline)


def dumps(tree, style: Style) -> bytes:
    out: list[str] = []
    _dump(tree, style.indent, "", out)
    if style.newline:
        out.append("\n")
    return "".join(out).encode("utf-8")


def _dump(v, indent: str | None, here: str, out: list[str]) -> None:
    if isinstance(v, list):  # an Obj (a list of members) or an array
        is_obj = isinstance(v, Obj)
        opening, closing = ("{", "}") if is_obj else ("[", "]")
        if not v:
            out.append(opening + closing)
            return
        inner = "" if indent is None else here + indent
        sep, colon = (",", ":") if indent is None else (",\n" + inner, ": ")
        out.append(opening if indent is None else opening + "\n" + inner)
        for i, x in enumerate(v):
            if i:
                out.append(sep)
            if is_obj:
                k, x = x
                out.append(gojson.encode_string(k) + colon)
            _dump(x, indent, inner, out)
        out.append(closing if indent is None else "\n" + here + closing)
    elif isinstance(v, Number):
        out.append(str(v))
    elif (text := gojson.encode_scalar(v)) is not None:
        out.append(text)
    elif isinstance(v, int):
        out.append(str(v))
    else:
        raise TypeError(f"cannot write {type(v).__name__} into config.json")


def write(path: str, data: bytes) -> None:
    """Replace ``path`` atomically, keeping the original's mode, owner and extended attributes
    (:func:`hook.atomicfile.write`; the file is synced, not its directory: the runtime reads it at once).  A symbolic link stays a link (its target is replaced).
    Raises OSError; the original is then untouched."""
    from hook import atomicfile

    target = oslite.realpath(path)
    atomicfile.write(target, data, atomicfile.meta_of(target, oslite.stat(target)), sync_dir=False)
