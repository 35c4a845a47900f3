"""containerd: ``config.toml`` versions 1, 2 and 3, drop-in files and ``imports``.

Pure decision logic on plain trees (:mod:`ctk.gotoml` path semantics), the containerd
config sources (``containerd config dump``, a file with its ``imports`` merged the way
containerd merges them) and :data:`ENGINE`, the :class:`~ctk.engines.base.Engine` built on
them.  One class serves every config version: version 1 (``plugins.cri``, no imports, edited
in place) and versions 2/3 (the CRI plugin name differs, :func:`plugin_keys`) are variants
chosen by :func:`detect_version`.  The top-level file is edited through
:class:`ctk.tomledit.TomlFile`, so the user's formatting is kept; the drop-in file is ours and
is written in the reference's layout.
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any

from hook import gocompat
from hook.atomicfile import sha256

from .. import gotoml
from ..common import Handler, RuntimeOptions, go_list, log, template_candidates
from .. import errors
from ..gotoml import delete_path, get_path, get_str, prune_empty, set_path
from ..plan import FileChange, Plan
from ..sources import CommandSource, FileSource, Snapshot, chroot_argv, deep_merge, host_path, read_file
from ..sources import _parse_toml as parse_toml
from ..tomledit import TomlFile
from .base import ConfigurePlan, ConfigureRequest, Engine

DEFAULT_CONFIG = "/etc/containerd/config.toml"
DEFAULT_DROP_IN = "/etc/containerd/conf.d/99-nvidia.toml"
DRY_RUN_IMPORTS_PATTERN = "/etc/containerd/conf.d/*.toml"   # the reference's dry-run document


def load_error(detail: str, config: str) -> str:
    """The reference's wording for a config that cannot be loaded (after the shared
    ``unable to load config for runtime containerd: `` prefix)."""
    return f"failed to load config: {detail}"


def detect_version(tree: dict, use_legacy: bool = False) -> int:
    """Config version of ``tree``: empty -> 2 (1 with ``use_legacy``), no key -> 1.

    Raises :class:`ConfigContentError` when ``version`` is not an integer.
    """
    if not tree:
        return 1 if use_legacy else 2
    if "version" not in tree:
        return 1
    v = tree["version"]
    if type(v) is not int:
        raise errors.ConfigContentError("failed to parse config version: unsupported type for version field")
    return v


def plugin_keys(version: int) -> list[str]:
    """Path of the CRI runtime plugin table for ``version``."""
    if version == 1:
        return ["plugins", "cri"]
    if version == 2:
        return ["plugins", "io.containerd.grpc.v1.cri"]
    return ["plugins", "io.containerd.cri.v1.runtime"]


def default_runtime(tree: dict, version: int) -> str:
    return get_str(tree, plugin_keys(version) + ["containerd", "default_runtime_name"])


def fallback_template(runtime_type: str) -> dict:
    return {"privileged_without_host_devices": False, "runtime_engine": "",
            "runtime_root": "", "runtime_type": runtime_type}


def find_template(source: dict, version: int) -> tuple[dict | None, list[str]]:
    """Deep copy of the first candidate handler present in ``source`` (or None) and the list
    of candidates that was searched."""
    p = plugin_keys(version)
    cands = template_candidates(default_runtime(source, version))
    for c in cands:
        t = get_path(source, p + ["containerd", "runtimes", c])
        if isinstance(t, dict):
            return copy.deepcopy(t), cands
    return None, cands


def binary_path(tree: dict, version: int, name: str) -> str:
    """``options.BinaryName`` of handler ``name`` (``""`` when absent)."""
    return get_str(tree, plugin_keys(version) + ["containerd", "runtimes", name, "options", "BinaryName"])


def low_level_runtimes(tree: dict, version: int) -> list[str]:
    """Binary paths of the default/runc/crun handlers, de-duplicated, in order."""
    from ..common import low_level_runtimes as _low
    return _low(default_runtime(tree, version), lambda c: binary_path(tree, version, c))


def add_runtime(dest: dict, source: dict, version: int, handler: Handler, opts: RuntimeOptions,
                use_legacy: bool = False) -> None:
    """Add ``handler`` to ``dest`` with settings inherited from ``source`` (upstream §2.3).

    Raises :class:`ConfigContentError` for wrongly-typed ``container_annotations`` when
    annotation prefixes are requested.
    """
    p = plugin_keys(version)
    tmpl, cands = find_template(source, version)
    if tmpl is None:
        log.warning("Could not infer options from runtimes %s", go_list(cands))
        tmpl = fallback_template(opts.runtime_type)
    dest["version"] = version
    entry = tmpl
    if opts.annotation_prefixes:
        existing = entry.get("container_annotations", [])
        if not isinstance(existing, list) or not all(isinstance(x, str) for x in existing):
            raise errors.ConfigContentError("container_annotations of the template runtime is not a list of strings")
        entry["container_annotations"] = [x + "*" for x in opts.annotation_prefixes] + list(existing)
    rt = entry.get("runtime_type")
    if (not isinstance(rt, str) or rt == "") and opts.runtime_type:
        entry["runtime_type"] = opts.runtime_type
    set_path(entry, ["options", "BinaryName"], handler.path)
    if version == 1:
        set_path(entry, ["options", "Runtime"], handler.path)
    set_path(dest, p + ["containerd", "runtimes", handler.name], entry)
    default_key = p + ["containerd", "default_runtime_name"]
    legacy = version == 1 and use_legacy
    if opts.is_default(handler) and not legacy:
        set_path(dest, default_key, handler.name)
    elif get_str(dest, default_key) == handler.name:
        delete_path(dest, default_key)
    if legacy and opts.is_default(handler):
        dr = p + ["containerd", "default_runtime"]
        if not isinstance(get_path(dest, dr), dict):
            set_path(dest, dr, fallback_template(opts.runtime_type))
        set_path(dest, dr + ["options", "BinaryName"], handler.path)
        set_path(dest, dr + ["options", "Runtime"], handler.path)


def enable_cdi(dest: dict, version: int) -> None:
    if version == 1:
        set_path(dest, ["plugins", "cri", "containerd", "enable_cdi"], True)
    else:
        set_path(dest, plugin_keys(version) + ["enable_cdi"], True)


def cdi_key(version: int) -> list[str]:
    if version == 1:
        return ["plugins", "cri", "containerd", "enable_cdi"]
    return plugin_keys(version) + ["enable_cdi"]


def remove_runtime(tree: dict, version: int, name: str, drop_version: bool = True) -> None:
    """Remove handler ``name`` and a default that names it; prune emptied tables."""
    p = plugin_keys(version)
    r = p + ["containerd", "runtimes", name]
    if version == 1:
        mine = get_str(tree, r + ["options", "BinaryName"]) or get_str(tree, r + ["options", "Runtime"])
        dr = p + ["containerd", "default_runtime"]
        theirs = get_str(tree, dr + ["options", "BinaryName"]) or get_str(tree, dr + ["options", "Runtime"])
        if mine and mine == theirs:
            delete_path(tree, dr)
    delete_path(tree, r)
    key = p + ["containerd", "default_runtime_name"]
    if get_str(tree, key) == name:
        delete_path(tree, key)
    prune_empty(tree, p + ["containerd", "runtimes"])
    if drop_version and list(tree) == ["version"]:
        del tree["version"]


def imports_list(tl: dict) -> list:
    v = tl.get("imports")
    return list(v) if isinstance(v, list) else []


def ensure_imports(tl: dict, pattern: str, version: int) -> bool:
    """Append ``pattern`` to ``imports`` unless present; returns whether it was added."""
    cur = imports_list(tl)
    if pattern in [x for x in cur if isinstance(x, str)]:
        return False
    if not tl:
        tl["version"] = version
    tl["imports"] = cur + [pattern]
    return True


def remove_import(tl: dict, pattern: str) -> None:
    cur = imports_list(tl)
    if pattern in cur:
        cur = [x for x in cur if x != pattern]
        if cur:
            tl["imports"] = cur
        else:
            del tl["imports"]
            if list(tl) == ["version"]:
                del tl["version"]


def imports_pattern(drop_in: str, host_path: str = "") -> str:
    d = os.path.dirname(host_path or drop_in)
    return os.path.join(d, "*.toml")


@dataclass(slots=True)
class ContainerdResult:
    plan: Plan
    version: int
    previous_default: str
    imports_added: str | None
    cdi_added: bool
    problem: str | None = None


def plan_configure(source: Snapshot, top: TomlFile, drop_in: str, opts: RuntimeOptions,
                   use_legacy: bool = False, drop_in_host_path: str = "",
                   existing_drop_in: bytes | None = None, version: int | None = None) -> ContainerdResult:
    """Compute the files configure writes and the upstream dry-run documents.

    * version 1: the top-level file is edited in place (a drop-in path is not used: v1 has
      no imports; upstream writes the whole config to the drop-in, which containerd ignores).
    * version 2/3 with a drop-in: the drop-in holds a copy of the effective CRI plugin table
      plus the handler(s); the top-level file gets an ``imports`` entry.
    * version 2/3 with ``drop_in == ""``: the top-level file is edited in place.

    ``version``: :func:`detect_version` of ``source`` when the caller already has it.
    Raises :class:`ConfigContentError` for an unusable version or annotations.
    """
    src = source.tree
    if version is None:
        version = detect_version(src, use_legacy)
    p = plugin_keys(version)
    log.info("Using config version %d", version)
    log.info('Using CRI runtime plugin name "%s"', p[1])
    plan = Plan()
    previous_default = default_runtime(top.tree, version) if top.tree else default_runtime(src, version)

    def edit(dest: dict, tmpl_source: dict) -> None:
        for h in opts.handlers:
            add_runtime(dest, tmpl_source, version, h, opts, use_legacy)
        if opts.enable_cdi:
            enable_cdi(dest, version)

    cdi_added = opts.enable_cdi and get_path(top.tree, cdi_key(version)) is not True
    problem = None
    for h in opts.handlers:
        for tree, where in ((src, source.origin), (top.tree, top.path)):
            why = gotoml.obstruction(tree, p + ["containerd", "runtimes", h.name])
            if why and problem is None:
                problem = f"cannot add runtime {h.name}: {why} in {where}"

    if version == 1:
        new_top = top.copy_tree()
        # the template comes from the effective config, the edit applies to the user's file
        edit(new_top, src if src else new_top)
        after = top.render(new_top)
        plan.documents.append(("", (after or b"").decode()))
        plan.changes.append(FileChange(top.path, top.before, after, "top-level"))
        return ContainerdResult(plan, version, previous_default, None, cdi_added, problem)

    # upstream drop-in model (used for the dry-run documents and for drop-in mode)
    di: dict = {}
    cri = get_path(src, p)
    if isinstance(cri, dict):
        set_path(di, p, copy.deepcopy(cri))
    edit(di, src)
    di_text = gotoml.dumps(di)
    dry_top = top.copy_tree()
    if di_text:
        ensure_imports(dry_top, DRY_RUN_IMPORTS_PATTERN, version)
    plan.documents.append(("Drop-in config:", di_text))
    plan.documents.append(("Top-level config:", (top.render(dry_top) or b"").decode()))

    if drop_in:
        new_top = top.copy_tree()
        pattern = imports_pattern(drop_in, drop_in_host_path)
        added = ensure_imports(new_top, pattern, version)
        plan.changes.append(FileChange(drop_in, existing_drop_in, di_text.encode(), "drop-in"))
        plan.changes.append(FileChange(top.path, top.before, top.render(new_top), "top-level"))
        return ContainerdResult(plan, version, previous_default, pattern if added else None, cdi_added, problem)

    new_top = top.copy_tree()
    edit(new_top, src)
    plan.changes.append(FileChange(top.path, top.before, top.render(new_top), "top-level"))
    return ContainerdResult(plan, version, previous_default, None, cdi_added, problem)


def unconfigure_tree(tree: dict, version: int, names: list[str], previous_default: str | None,
                     cdi_added: bool, imports_added: str | None, default_cleared: bool = False) -> dict:
    """The top-level tree with what configure added removed (semantic path, used when the
    file changed since configure so its recorded original cannot simply be restored).
    ``default_cleared``: a configure removed our default, so an absent one is restored too."""
    out = copy.deepcopy(tree)
    p = plugin_keys(version)
    key = p + ["containerd", "default_runtime_name"]
    was_ours = get_str(out, key) in names or (default_cleared and not get_str(out, key))
    for n in names:
        remove_runtime(out, version, n, drop_version=False)
    if was_ours and previous_default and previous_default not in names:
        set_path(out, key, previous_default)
    if cdi_added:
        delete_path(out, cdi_key(version))
        prune_empty(out, cdi_key(version)[:-1])
    if imports_added:
        remove_import(out, imports_added)
    return out


# --------------------------------------------------------------------------- sources

def merge_containerd(base: dict, overlay: dict, mode: str) -> dict:
    """Merge an imported containerd file into ``base`` like containerd does.

    ``replace`` (containerd 1.x and 2.0): each top-level ``plugins.<id>`` table of the
    overlay replaces the base's table; other top-level keys overwrite.  ``deep`` (2.1+):
    tables merge key by key.  ``version`` and ``imports`` of imported files are ignored.
    """
    out = dict(base)
    for k, v in overlay.items():
        if k in ("version", "imports"):
            continue
        if k == "plugins" and isinstance(v, dict) and isinstance(out.get("plugins"), dict):
            plugins = dict(out["plugins"])
            for pk, pv in v.items():
                if mode == "deep" and isinstance(pv, dict) and isinstance(plugins.get(pk), dict):
                    plugins[pk] = deep_merge(plugins[pk], pv)
                else:
                    plugins[pk] = pv
            out["plugins"] = plugins
        elif mode == "deep" and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def expand_imports(imports: Any, parent: str) -> list[str]:
    """The files named by the ``imports`` list of the containerd config file ``parent``, as
    containerd resolves them (``resolveImports`` of containerd 2.x; 1.6 globbed a relative
    pattern from its own working directory): each entry is cleaned and, when relative, joined with
    ``parent``'s folder; one with a ``*`` is then a pattern, expanded with Go's ``filepath.Glob``
    (:func:`cdi.pathmatch.glob`: ``*`` matches a leading dot, ``[^x]`` negates, ``[!x]`` is a class
    holding ``!``; sorted per folder).  Non-string entries are ignored.

    Raises :class:`ConfigLoadError` for a malformed pattern (Go's ``ErrBadPattern``: containerd
    does not start with such a config)."""
    out: list[str] = []
    if not isinstance(imports, list):
        return out
    for entry in imports:
        if not isinstance(entry, str):
            continue
        path = gocompat.clean(entry)
        if not path.startswith("/"):
            path = gocompat.join(os.path.dirname(parent), path)
        if "*" not in path:
            out.append(path)
            continue
        from cdi import pathmatch
        if not pathmatch.well_formed(path):
            raise errors.ConfigLoadError(f"{parent}: imports entry {gocompat.quote(entry)}: syntax error in pattern")
        out.extend(pathmatch.glob(path))
    return out


@dataclass(frozen=True, slots=True)
class ContainerdImportsSource:
    """``config.toml`` plus every file it imports (recursively), merged like containerd."""

    path: str
    mode: str = "replace"
    exclude: tuple[str, ...] = field(default=())

    def load(self) -> Snapshot:
        inputs: list[tuple[str, str | None]] = []
        data = read_file(self.path)
        inputs.append((f"file:{self.path}", sha256(data)))
        if data is None:
            return Snapshot.make({}, self.describe(), inputs)
        tree = parse_toml(data, self.path)
        seen = {os.path.realpath(self.path)}
        excluded = {os.path.realpath(p) for p in self.exclude}
        queue = expand_imports(tree.get("imports"), self.path)
        while queue:
            p = queue.pop(0)
            rp = os.path.realpath(p)
            if rp in seen or rp in excluded:
                continue
            seen.add(rp)
            raw = read_file(p)
            inputs.append((f"file:{p}", sha256(raw)))
            if raw is None:
                continue
            sub = parse_toml(raw, p)
            tree = merge_containerd(tree, sub, self.mode)
            queue.extend(expand_imports(sub.get("imports"), p))
        return Snapshot.make(tree, self.describe(), inputs)

    def describe(self) -> str:
        return f"file {self.path} with its imports ({self.mode} merge)"


def containerd_command(executable: str = "", host_root: str = "", config: str = "") -> CommandSource:
    """``[chroot <host-root>] <executable|containerd> [--config <config>] config dump``.

    With ``config`` containerd dumps that file (and its imports) instead of its default
    ``/etc/containerd/config.toml``; ``--config`` goes before ``config dump`` (some containerd
    2.x builds take it only there)."""
    opt = ["--config", host_path(host_root, config)] if config else []
    return CommandSource(chroot_argv(host_root, [executable or "containerd", *opt, "config", "dump"]))


def warn_shadowed_imports(req: ConfigureRequest, top: dict, version: int) -> None:
    """containerd < 2.1 replaces whole plugin tables on import: with the ``file`` source our
    drop-in carries only the main file's CRI table and would hide CRI settings of other
    imported files.  Say so (the ``effective`` source reads them)."""
    from .. import fileio
    if not isinstance(req.source, FileSource) or version < 2:
        return
    mine = os.path.realpath(req.drop_in) if req.drop_in else None
    cri = plugin_keys(version)
    try:
        imported = expand_imports(top.get("imports"), req.config)
    except errors.ConfigLoadError as exc:  # containerd refuses the file; the file source does not read imports
        log.warning("%s: containerd cannot load this config", exc)
        return
    for path in imported:
        if os.path.realpath(path) == mine or not os.path.isfile(path):
            continue
        try:
            other = parse_toml(fileio.read_optional(path) or b"", path)
        except (errors.ConfigLoadError, errors.WriteError):
            continue
        if isinstance(get_path(other, cri), dict):
            log.warning("%s sets CRI plugin options that the drop-in would override on containerd "
                        "< 2.1; use --config-source=effective to carry them over", path)


# --------------------------------------------------------------------------- the engine

class Containerd(Engine):
    name = "containerd"
    default_config = DEFAULT_CONFIG
    default_drop_in = DEFAULT_DROP_IN
    default_socket = "/run/containerd/containerd.sock"
    service = "containerd"

    def command_source(self, executable: str, host_root: str, config: str) -> CommandSource:
        return containerd_command(executable, host_root, config)

    def effective_source(self, config: str, drop_in: str) -> ContainerdImportsSource:
        return ContainerdImportsSource(config, exclude=(drop_in,) if drop_in else ())

    load_error = staticmethod(load_error)

    def plan_configure(self, req: ConfigureRequest, snapshot: Snapshot | None = None) -> ConfigurePlan:
        snap, top, existing = self.read_toml(req, snapshot)
        try:
            version = detect_version(snap.tree, req.use_legacy)
        except errors.ConfigContentError as exc:
            raise errors.ConfigContentError(f"unable to load config for runtime containerd: {exc}") from None
        try:
            res = plan_configure(snap, top, req.drop_in, req.opts, req.use_legacy,
                                 req.drop_in_host_path, existing, version)
        except errors.ConfigContentError as exc:
            raise errors.ConfigContentError(f"unable to update config: {exc}") from None
        warn_shadowed_imports(req, top.tree, version)
        if version == 1 and req.drop_in:
            log.warning("containerd config version 1 does not support drop-in files; "
                        "editing %s in place instead of writing %s", req.config, req.drop_in)
        return ConfigurePlan(res.plan, snap, res.previous_default, res.cdi_added, res.imports_added,
                             version, res.problem)

    def remove(self, path: str, cur: bytes, names: list[str], rec: Any) -> bytes | None:
        top = TomlFile(path, cur)
        version = rec.version if rec and rec.version else detect_version(top.tree)
        return top.render(unconfigure_tree(
            top.tree, version, names, rec.previous_default if rec else None,
            rec.cdi_added if rec else False, rec.imports_added if rec else None,
            rec.default_cleared if rec else False))

    def default_runtime(self, tree: dict) -> str:
        return default_runtime(tree, detect_version(tree))

    def low_level_runtimes(self, tree: dict) -> list[str]:
        return low_level_runtimes(tree, detect_version(tree))


ENGINE = Containerd()
