"""CDI container edits applied to an OCI spec tree (runtime.md §11.2 step 4; the CDI specification).

* :class:`Edits` is one ``containerEdits`` object as plain values;
* :func:`apply` applies edits to an OCI spec tree (:mod:`shim.ocispec`);
* :func:`from_spec_dirs` resolves device names through the project's one CDI spec reader
  (:class:`cdi.registry.Registry`), :func:`from_generated` takes the edits of a spec generated in
  memory (jit-cdi, :func:`cdi.generate.generate`).
"""

from __future__ import annotations

from hook import oslite
from hook.gocompat import clean
from hook.gojson import Obj
from hook.values import lazy_exception

from . import ocispec

HOOK_NAMES = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
SPEC_EXTENSIONS = (".json", ".yaml", ".yml")  # runtime.md §11.2 step 1


__getattr__ = lazy_exception(globals(), "CdiError", ValueError,
                             "Devices cannot be resolved or edits cannot be applied; ``str()`` is the message.")


def _cdi_error(message: str) -> Exception:
    return __getattr__("CdiError")(message)


class Edits:
    """One ``containerEdits`` object, as plain values."""

    __slots__ = ("env", "device_nodes", "mounts", "hooks", "additional_gids", "intel_rdt", "net_devices")

    def __init__(self, raw: dict | None) -> None:
        raw = raw if isinstance(raw, dict) else {}
        self.env = list(raw.get("env") or [])
        self.device_nodes = list(raw.get("deviceNodes") or [])
        self.mounts = list(raw.get("mounts") or [])
        self.hooks = list(raw.get("hooks") or [])
        self.additional_gids = list(raw.get("additionalGids") or [])
        self.intel_rdt = raw.get("intelRdt")
        self.net_devices = list(raw.get("netDevices") or [])


def from_spec_dirs(spec_dirs, names: list[str], warn) -> list[Edits]:
    """The edits of the fully-qualified ``names`` from the specs in ``spec_dirs`` (a later
    directory wins; a broken spec is skipped, ``warn`` gets one line for it).  Raises
    :class:`CdiError` naming every unresolvable device."""
    from cdi import errors as cdi_errors
    from cdi.registry import Registry

    registry = Registry(spec_dirs, SPEC_EXTENSIONS)
    for path, problems in registry.errors:
        warn(f"Ignoring CDI spec {path}: {'; '.join(problems)}")
    try:
        return [Edits(e) for e in registry.edits_for(names)]
    except cdi_errors.UnresolvableError as exc:
        raise _cdi_error(str(exc)) from None


def from_generated(spec: dict) -> list[Edits]:
    """The edits of a generated spec as our jit-cdi applies them (cdi.md §6.3): every device in
    spec order, then the common edits once."""
    return [*(Edits(d.get("containerEdits")) for d in spec["devices"]), Edits(spec.get("containerEdits"))]


# --- applying edits -------------------------------------------------------------------------------

def apply(tree: Obj, edits: list[Edits], stat=oslite.stat) -> None:
    """Apply ``edits`` in order to the spec ``tree`` (CDI semantics, runtime.md §11.2 step 4).

    ``stat`` looks up host device nodes.  Raises :class:`CdiError`, also for values of the wrong
    type in a spec file.
    """
    try:
        _apply(tree, edits, stat)
    except __getattr__("CdiError"):  # evaluated only when something was raised
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        raise _cdi_error(f"invalid container edits: {exc}") from None


def _apply(tree: Obj, edits: list[Edits], stat) -> None:
    env: list[str] = []
    for e in edits:
        for entry in e.env:
            _merge_env(env, str(entry))
    if env:
        process = ocispec.child(tree, "process")
        ocispec.array(process, "env").extend(env)
    uid, gid = _user_ids(tree)
    for e in edits:
        for node in e.device_nodes:
            _add_device(tree, node, uid, gid, stat)
        _add_mounts(tree, e.mounts)
        for h in e.hooks:
            _add_hook(tree, h)
        if e.additional_gids:
            user = ocispec.child(ocispec.child(tree, "process"), "user")
            gids = ocispec.array(user, "additionalGids")
            for g in e.additional_gids:
                if not any(str(x) == str(g) for x in gids):
                    gids.append(ocispec.to_tree(int(g)))
        if e.intel_rdt:
            ocispec.set_member(ocispec.child(tree, "linux"), "intelRdt", ocispec.to_tree(e.intel_rdt))
        for nd in e.net_devices:
            if isinstance(nd, dict) and nd.get("hostInterfaceName"):
                nets = ocispec.child(ocispec.child(tree, "linux"), "netDevices")
                ocispec.set_member(nets, nd["hostInterfaceName"], Obj([("name", nd.get("name", ""))]))
    mounts = ocispec.member(tree, "mounts")
    if mounts:
        mounts.sort(key=_mount_depth)


def _merge_env(env: list[str], entry: str) -> None:
    name = entry.partition("=")[0]
    for i, existing in enumerate(env):
        if existing.partition("=")[0] == name:
            env[i] = entry
            return
    env.append(entry)


def _user_ids(tree: Obj) -> tuple[int, int]:
    process = ocispec.member(tree, "process")
    user = ocispec.member(process, "user") if isinstance(process, Obj) else None
    if not isinstance(user, Obj):
        return 0, 0
    return int(ocispec.member(user, "uid") or 0), int(ocispec.member(user, "gid") or 0)


def _add_device(tree: Obj, node: dict, uid: int, gid: int, stat) -> None:
    if not isinstance(node, dict) or not node.get("path"):
        raise _cdi_error(f"invalid device node {node!r}")
    path = node["path"]
    host = node.get("hostPath") or path
    dtype = node.get("type") or ""
    major, minor = int(node.get("major") or 0), int(node.get("minor") or 0)
    mode = node.get("fileMode")
    if not (dtype and (major != 0 or dtype == "p")):
        try:
            st = stat(host)
        except OSError as exc:
            raise _cdi_error(f"failed to stat CDI host device {host!r}: {exc.strerror}") from None
        kind = oslite.S_IFMT(st.st_mode)
        found = ("b" if kind == oslite.S_IFBLK else "c" if kind == oslite.S_IFCHR
                 else "p" if kind == oslite.S_IFIFO else "")
        if not found:
            raise _cdi_error(f"CDI host device {host!r} is not a device node")
        if dtype and dtype != found and not (dtype == "u" and found == "c"):
            raise _cdi_error(f"CDI device ({path}, {host}), host type mismatch ({dtype}, {found})")
        dtype = dtype or found
        if dtype != "p" and major == 0 and minor == 0:
            major, minor = oslite.major(st.st_rdev), oslite.minor(st.st_rdev)
        if mode is None:
            mode = oslite.S_IMODE(st.st_mode)
    entry = Obj([("path", path), ("type", dtype), ("major", ocispec.to_tree(major)),
                 ("minor", ocispec.to_tree(minor))])
    if mode is not None:
        entry.append(("fileMode", ocispec.to_tree(int(mode))))
    node_uid = node.get("uid", uid if uid > 0 else None)
    node_gid = node.get("gid", gid if gid > 0 else None)
    if node_uid is not None:
        entry.append(("uid", ocispec.to_tree(int(node_uid))))
    if node_gid is not None:
        entry.append(("gid", ocispec.to_tree(int(node_gid))))
    linux = ocispec.child(tree, "linux")
    devices = ocispec.array(linux, "devices")
    devices[:] = [d for d in devices if not (isinstance(d, Obj) and ocispec.member(d, "path") == path)]
    devices.append(entry)
    if dtype in ("b", "c"):
        rules = ocispec.array(ocispec.child(linux, "resources"), "devices")
        rules.append(Obj([("allow", True), ("type", dtype), ("major", ocispec.to_tree(major)),
                          ("minor", ocispec.to_tree(minor)), ("access", node.get("permissions") or "rwm")]))


def _add_mounts(tree: Obj, ms: list) -> None:
    """One edit's mounts: each replaces any earlier mount with its destination (in the spec or added
    before it) and goes last.  The spec's mounts are looked at once, not once per mount added."""
    entries = []
    for m in ms:
        if not isinstance(m, dict) or not m.get("containerPath"):
            raise _cdi_error(f"invalid mount {m!r}")
        entry = Obj([("destination", m["containerPath"]), ("source", m.get("hostPath", ""))])
        if m.get("type"):
            entry.append(("type", m["type"]))
        entry.append(("options", [str(o) for o in (m.get("options") or [])]))
        entries.append((m["containerPath"], entry))
    if not entries:
        return
    last = {dest: i for i, (dest, _) in enumerate(entries)}
    mounts = ocispec.array(tree, "mounts")
    kept = [x for x in mounts if not (isinstance(x, Obj) and isinstance(d := ocispec.member(x, "destination"), str)
                                      and d in last)]
    mounts[:] = kept + [entry for i, (dest, entry) in enumerate(entries) if last[dest] == i]


def _add_hook(tree: Obj, h: dict) -> None:
    if not isinstance(h, dict) or h.get("hookName") not in HOOK_NAMES or not h.get("path"):
        raise _cdi_error(f"invalid hook {h!r}")
    entry = Obj([("path", h["path"])])
    for key in ("args", "env"):
        if h.get(key):
            entry.append((key, [str(x) for x in h[key]]))
    if h.get("timeout") is not None:
        entry.append(("timeout", ocispec.to_tree(int(h["timeout"]))))
    ocispec.array(ocispec.child(tree, "hooks"), h["hookName"]).append(entry)


def _mount_depth(m) -> int:
    dest = ocispec.member(m, "destination") if isinstance(m, Obj) else None
    return len(clean(dest or "").split("/"))
