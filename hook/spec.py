"""The parts of the bundle's OCI runtime spec (``config.json``) the hook reads (hook.md §2.2, §3)."""

from __future__ import annotations

from . import errors, gocompat, gojson
from .values import Value

_UINT32 = (0, 0xFFFFFFFF)


class Mount(Value, frozen=True):
    """One entry of ``mounts`` (only ``source`` and ``destination`` matter to the hook)."""

    destination: str = ""
    source: str = ""


class Spec(Value, frozen=True):
    """The decoded spec.

    ``capabilities`` is the raw decoded ``process.capabilities`` value (None
    when absent or null); :func:`is_privileged` interprets it.
    """

    oci_version: str
    env: tuple[str, ...]
    capabilities: object
    root_path: str
    mounts: tuple[Mount, ...]

    @property
    def privileged(self) -> bool:
        return is_privileged(self)


def load_spec(path: str) -> Spec:
    """Read and decode ``path`` (its first JSON value, at most :data:`~hook.gojson.INPUT_LIMIT` bytes).

    Raises :class:`SpecError` with the reference's messages: "could not open
    OCI spec: ...", "could not decode OCI spec: ...", "Version is empty in OCI
    spec", "Process is empty in OCI spec", "Root is empty in OCI spec".
    """
    return parse_value(load_value(path))


def load_value(path: str):
    """The first JSON value of ``path`` (at most :data:`~hook.gojson.INPUT_LIMIT` bytes), decoded
    by :mod:`hook.gojson` but not interpreted.

    Raises :class:`SpecError` "could not open OCI spec: open P: ..." or "could not decode OCI
    spec: ..."; its ``detail`` is the part after the first colon (Go's error text)."""
    from . import oslite

    try:
        fd = oslite.open(path, oslite.O_RDONLY | oslite.O_CLOEXEC)
    except (OSError, ValueError) as exc:
        detail = f"open {path}: {gocompat.errno_text(getattr(exc, 'errno', None))}"
        raise errors.SpecError(f"could not open OCI spec: {detail}", detail) from None
    try:
        st = oslite.fstat(fd)
        regular = oslite.S_IFMT(st.st_mode) == oslite.S_IFREG
        return gojson.read_first(lambda n: oslite.read(fd, n), stream=not regular,
                                 chunk=max(st.st_size + 1, 1 << 16) if regular else 1 << 16)
    except OSError as exc:
        detail = f"read {path}: {gocompat.errno_text(exc.errno)}"
        raise errors.SpecError(f"could not decode OCI spec: {detail}", detail) from None
    except gojson.InputTooLarge as exc:
        raise errors.SpecError(f"could not decode OCI spec: read {path}: {exc}", f"read {path}: {exc}") from None
    except gojson.DecodeError as exc:
        raise errors.SpecError(f"could not decode OCI spec: {exc}", str(exc)) from None
    finally:
        oslite.close(fd)


def root_path(value) -> str | None:
    """``root.path`` of a spec tree decoded by :func:`load_value` (None when ``root`` is absent or
    null), decoding no other field (as the CDI hooks' minimal spec does).

    Raises :class:`SpecError` "could not decode OCI spec: ..." (``detail``: Go's error text)."""
    try:
        if value is None:
            return None
        if not isinstance(value, gojson.Obj):
            raise gojson.type_error(value, "value", "specs.Spec")
        return _root(gojson.fields(value, ("root",)).get("root", []))
    except gojson.DecodeError as exc:
        raise errors.SpecError(f"could not decode OCI spec: {exc}", str(exc)) from None


def parse_spec(data: bytes) -> Spec:
    """Decode spec bytes; raises :class:`SpecError` (see :func:`load_spec`)."""
    try:
        value = gojson.decode_first(data)
    except gojson.DecodeError as exc:
        raise errors.SpecError(f"could not decode OCI spec: {exc}") from None
    return parse_value(value)


def parse_value(value) -> Spec:
    """The :class:`Spec` of a tree already decoded by :func:`gojson.decode_first` (the runtime shim
    decodes config.json once).  Raises :class:`SpecError` like :func:`parse_spec`."""
    try:
        version, process, root, mounts = _decode(value)
    except gojson.DecodeError as exc:
        raise errors.SpecError(f"could not decode OCI spec: {exc}") from None
    if version is None:
        raise errors.SpecError("Version is empty in OCI spec")
    if process is None:
        raise errors.SpecError("Process is empty in OCI spec")
    if root is None:
        raise errors.SpecError("Root is empty in OCI spec")
    env, caps = process
    return Spec(oci_version=version, env=tuple(env), capabilities=caps, root_path=root, mounts=mounts)


def _decode(value):
    if value is None:
        return None, None, None, ()
    if not isinstance(value, gojson.Obj):
        raise gojson.type_error(value, "value", "specs.Spec")
    f = gojson.fields(value, ("ociversion", "process", "root", "mounts"))
    version = gojson.as_string_or_none(f.get("ociversion", []), "struct field Spec.ociVersion")

    process = None
    pobj = gojson.as_struct(f.get("process", []), "struct field Spec.process", "specs.Process")
    if pobj is not None:
        pf = gojson.fields(pobj, ("env", "capabilities"))
        env: list[str] = []
        for v in pf.get("env", ()):
            env = gojson.as_string_list(v, "struct field .process.env") or []
        caps = None
        for v in pf.get("capabilities", ()):
            caps = v
        process = (env, caps)

    root = _root(f.get("root", []))

    mounts: tuple[Mount, ...] = ()
    for v in f.get("mounts", ()):
        mounts = _mounts(v)
    return version, process, root, mounts


def _root(values) -> str | None:
    robj = gojson.as_struct(values, "struct field Spec.root", "specs.Root")
    if robj is None:
        return None
    return gojson.as_string(gojson.fields(robj, ("path",)).get("path", []), "", "struct field .root.path")


_MOUNT_FIELDS = ("destination", "type", "source", "options", "uidmappings", "gidmappings")


def _mounts(value) -> tuple[Mount, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or isinstance(value, gojson.Obj):
        raise gojson.type_error(value, "struct field Spec.mounts", "[]specs.Mount")
    out = []
    for item in value:
        if item is None:
            out.append(Mount())
            continue
        if not isinstance(item, gojson.Obj):
            raise gojson.type_error(item, "struct field Spec.mounts", "specs.Mount")
        mf = gojson.fields(item, _MOUNT_FIELDS)
        dest = gojson.as_string(mf.get("destination", []), "", "struct field Mount.mounts.destination")
        gojson.as_string(mf.get("type", []), "", "struct field Mount.mounts.type")
        source = gojson.as_string(mf.get("source", []), "", "struct field Mount.mounts.source")
        for v in mf.get("options", ()):
            gojson.as_string_list(v, "struct field Mount.mounts.options")
        for key in ("uidmappings", "gidmappings"):
            for v in mf.get(key, ()):
                _id_mappings(v)
        out.append(Mount(destination=dest, source=source))
    return tuple(out)


def _id_mappings(value) -> None:
    if value is None:
        return
    if not isinstance(value, list) or isinstance(value, gojson.Obj):
        raise gojson.type_error(value, "struct field Mount.mounts.uidMappings", "[]specs.LinuxIDMapping")
    for item in value:
        if item is None:
            continue
        if not isinstance(item, gojson.Obj):
            raise gojson.type_error(item, "struct field Mount.mounts.uidMappings", "specs.LinuxIDMapping")
        for key, vals in gojson.fields(item, ("containerid", "hostid", "size")).items():
            for v in vals:
                if v is not None:
                    gojson.as_int(v, f"struct field LinuxIDMapping.{key}", "uint32", *_UINT32)


# --- privileged detection (hook.md §3) --------------------------------------

def uses_list_capabilities(oci_version: str) -> bool:
    """True when ``ociVersion`` selects the rc1..rc4 list layout of ``process.capabilities``."""
    from . import version

    try:
        v = version.parse_version(oci_version)
    except version.VersionError:
        return False
    return v.compare(version.Version(1, 0, 0, "rc1")) >= 0 and v.compare(version.Version(1, 0, 0, "rc5")) < 0


_CAP_FIELDS = ("bounding", "effective", "inheritable", "permitted", "ambient")


def capability_list(spec: Spec) -> list[str]:
    """The capability list the reference tests for ``CAP_SYS_ADMIN``.

    Raises :class:`SpecError` ("could not decode Process.Capabilities in OCI
    spec: ...") when the value has the wrong shape for the spec's version.
    """
    caps = spec.capabilities
    if caps is None:
        return []
    try:
        if uses_list_capabilities(spec.oci_version):
            if isinstance(caps, gojson.Obj):
                raise gojson.type_error(caps, "value", "[]string")
            return gojson.as_string_list(caps, "value") or []
        if not isinstance(caps, gojson.Obj):
            raise gojson.type_error(caps, "value", "specs.LinuxCapabilities")
        bounding: list[str] = []
        for key, values in gojson.fields(caps, _CAP_FIELDS).items():
            for v in values:
                lst = gojson.as_string_list(v, f"struct field LinuxCapabilities.{key}") or []
                if key == "bounding":
                    bounding = lst
        return bounding
    except gojson.DecodeError as exc:
        raise errors.SpecError(f"could not decode Process.Capabilities in OCI spec: {exc}") from None


def is_privileged(spec: Spec) -> bool:
    """True iff the capability list holds the exact string ``CAP_SYS_ADMIN`` (hook.md §3)."""
    return "CAP_SYS_ADMIN" in capability_list(spec)
