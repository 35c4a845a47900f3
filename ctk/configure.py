"""configure / unconfigure as a library: load -> plan -> (check) -> write -> record.

:func:`prepare_configure` and :func:`prepare_unconfigure` only read; they return a
:class:`Prepared` whose plan can be printed (dry-run, diff) or committed with
:func:`commit`, which first checks that neither the files to be replaced nor (optionally)
the effective configuration changed since they were read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from . import containerd, crio, docker, fileio, sources, state
from .common import RuntimeOptions, log
from .errors import (ConfigChangedError, ConfigContentError, ConfigLoadError, CtkError,
                     WriteError)
from .plan import FileChange, Plan
from .plan import apply as apply_plan
from .sources import EmptySource, Snapshot
from .tomledit import TomlFile

RUNTIMES = ("containerd", "crio", "docker")
ENGINES = {"containerd": containerd, "crio": crio}
DEFAULT_CONFIG = {"containerd": containerd.DEFAULT_CONFIG, "crio": crio.DEFAULT_CONFIG,
                  "docker": docker.DEFAULT_CONFIG}
DEFAULT_DROP_IN = {"containerd": containerd.DEFAULT_DROP_IN, "crio": crio.DEFAULT_DROP_IN,
                   "docker": ""}


def default_drop_in(runtime: str, config: str) -> str:
    """The drop-in path when none is given: the runtime's drop-in directory next to ``config``
    (``<dir>/conf.d/99-nvidia.toml``, ``<dir>/crio.conf.d/99-nvidia.toml``), so a private
    ``--config`` never leads to a write into the host's ``/etc``."""
    default = DEFAULT_DROP_IN[runtime]
    if not default or not config:
        return default
    return os.path.join(os.path.dirname(os.path.abspath(config)),
                        os.path.basename(os.path.dirname(default)), os.path.basename(default))


@dataclass(slots=True)
class ConfigureRequest:
    runtime: str
    config: str
    drop_in: str
    source: Any
    opts: RuntimeOptions
    use_legacy: bool = False
    drop_in_host_path: str = ""


@dataclass(slots=True)
class Prepared:
    """A computed plan plus what is needed to commit it safely."""

    runtime: str
    config: str
    plan: Plan
    record: state.Record | None
    snapshot: Snapshot | None = None
    source: Any = None
    info: dict = field(default_factory=dict)


def _read(path: str, runtime: str) -> bytes | None:
    try:
        return fileio.read_optional(path) if path else None
    except WriteError as exc:
        raise ConfigLoadError(f"unable to load config for runtime {runtime}: {exc}") from None


def load_snapshot(runtime: str, source: Any, config: str = "") -> Snapshot:
    """Load the effective config; errors carry the reference's wording (per engine)."""
    try:
        return source.load()
    except ConfigLoadError as exc:
        detail = ENGINES[runtime].load_error(str(exc), config)
        raise ConfigLoadError(f"unable to load config for runtime {runtime}: {detail}") from None


def prepare_configure(req: ConfigureRequest, snapshot: Snapshot | None = None) -> Prepared:
    """Read everything and compute the plan.  Raises :class:`CtkError` subclasses."""
    rt = req.runtime
    if rt == "docker":
        raw = _read(req.config, rt)
        try:
            cfg = docker.DockerConfig(req.config, raw)
        except ConfigLoadError as exc:
            raise ConfigLoadError(f"unable to load config for runtime docker: {exc}") from None
        snap = Snapshot.make(cfg.tree and _jsonable(cfg.tree), f"file {req.config}",
                             [(f"file:{req.config}", state.sha(raw))])
        try:
            res = docker.plan_configure(cfg, req.opts)
        except ConfigContentError as exc:
            raise ConfigContentError(f"unable to update config: {exc}") from None
        rec = _record(req, res.plan, res.previous_default or None, res.cdi_added, None, None, snap)
        return Prepared(rt, req.config, res.plan, rec, snap, req.source)

    snap = snapshot or load_snapshot(rt, req.source, req.config)
    top_raw = _read(req.config, rt)
    try:
        top = TomlFile(req.config, top_raw)
    except ConfigLoadError as exc:
        raise ConfigLoadError(f"unable to load config for runtime {rt}: failed to load top-level "
                              f"config {req.config}: {exc}") from None
    di_raw = _read(req.drop_in, rt) if req.drop_in else None
    if rt == "containerd":
        try:
            containerd.detect_version(snap.tree, req.use_legacy)
        except ConfigContentError as exc:
            raise ConfigContentError(f"unable to load config for runtime containerd: {exc}") from None
        try:
            cres = containerd.plan_configure(snap, top, req.drop_in, req.opts, req.use_legacy,
                                             req.drop_in_host_path, di_raw)
        except ConfigContentError as exc:
            raise ConfigContentError(f"unable to update config: {exc}") from None
        _warn_shadowed_imports(req, top.tree, cres.version)
        if cres.version == 1 and req.drop_in:
            log.warning("containerd config version 1 does not support drop-in files; "
                        "editing %s in place instead of writing %s", req.config, req.drop_in)
        rec = _record(req, cres.plan, cres.previous_default or None, cres.cdi_added,
                      cres.imports_added, cres.version, snap)
        return Prepared(rt, req.config, cres.plan, rec, snap, req.source,
                        {"version": cres.version, "problem": cres.problem,
                         "dry_run_prints_problem": cres.dry_run_prints_problem})
    rres = crio.plan_configure(snap, top, req.drop_in, req.opts, di_raw)
    rec = _record(req, rres.plan, rres.previous_default or None, False, None, None, snap)
    return Prepared(rt, req.config, rres.plan, rec, snap, req.source, {"problem": rres.problem})


def check_problem(prep: Prepared, dry_run: bool = False) -> None:
    """Raise :class:`ConfigContentError` when the config holds a non-table where the handler
    goes: a file that would put the handler at another place is never written, and a dry run
    refuses it with the same message.  Only where the golden corpus records the reference's
    dry-run documents (containerd) are they printed, after a warning with that message."""
    problem = prep.info.get("problem")
    if problem:
        if dry_run and prep.info.get("dry_run_prints_problem"):
            log.warning("unable to update config: %s (a real run refuses to write this)", problem)
            return
        raise ConfigContentError(f"unable to update config: {problem}")


def _warn_shadowed_imports(req: ConfigureRequest, top: dict, version: int) -> None:
    """containerd < 2.1 replaces whole plugin tables on import: with the ``file`` source our
    drop-in carries only the main file's CRI table and would hide CRI settings of other
    imported files.  Say so (the ``effective`` source reads them)."""
    from .sources import FileSource, expand_imports
    from .gotoml import get_path
    if not isinstance(req.source, FileSource) or version < 2:
        return
    mine = os.path.realpath(req.drop_in) if req.drop_in else None
    cri = containerd.plugin_keys(version)
    for path in expand_imports(top.get("imports"), os.path.dirname(req.config)):
        if os.path.realpath(path) == mine or not os.path.isfile(path):
            continue
        try:
            other = sources._parse_toml(fileio.read_optional(path) or b"", path)
        except (ConfigLoadError, WriteError):
            continue
        if isinstance(get_path(other, cri), dict):
            log.warning("%s sets CRI plugin options that the drop-in would override on containerd "
                        "< 2.1; use --config-source=effective to carry them over", path)


def _jsonable(tree: Any) -> Any:
    from .jsonfmt import Number
    if isinstance(tree, dict):
        return {k: _jsonable(v) for k, v in tree.items()}
    if isinstance(tree, list):
        return [_jsonable(v) for v in tree]
    if isinstance(tree, Number):
        return tree.text
    return tree


def _record(req: ConfigureRequest, plan: Plan, previous_default: str | None, cdi_added: bool,
            imports_added: str | None, version: int | None, snap: Snapshot) -> state.Record:
    files = [state.FileRecord(os.path.abspath(c.path), c.role, state.b64(c.before), state.sha(c.after))
             for c in plan.changes if c.changed]
    names = [h.name for h in req.opts.handlers]
    cleared = previous_default in names and not any(req.opts.is_default(h) for h in req.opts.handlers)
    return state.Record(req.runtime, os.path.abspath(req.config), req.drop_in, names,
                        previous_default, cdi_added, imports_added, version, files,
                        snap.fingerprint(), default_cleared=cleared)


def verify_unchanged(prep: Prepared, recheck_source: bool = False) -> None:
    """Raise :class:`ConfigChangedError` if a file to be replaced, or (``recheck_source``)
    the effective configuration, differs from what the plan was computed from."""
    problems = []
    for c in prep.plan.changes:
        if not c.changed:
            continue
        now = fileio.read_optional(c.path) if os.path.lexists(c.path) else None
        if now != c.before:
            if c.before is None:
                problems.append(f"{c.path} was created")
            elif now is None:
                problems.append(f"{c.path} was removed")
            else:
                problems.append(f"{c.path} was modified")
    if recheck_source and prep.snapshot is not None and prep.source is not None \
            and not isinstance(prep.source, EmptySource):
        try:
            again = prep.source.load()
        except ConfigLoadError as exc:
            problems.append(f"the configuration can no longer be read ({exc})")
        else:
            problems.extend(p for p in prep.snapshot.changes(again) if p not in problems)
    if problems:
        raise ConfigChangedError("the configuration changed since it was read, nothing was "
                                 "written: " + "; ".join(problems))


def locked(state_dir: str, *paths: str):
    """Serialise this run with every other one writing any of ``paths``: hold it from before
    the files are read until the record is saved (lock files in ``<state-dir>/locks``)."""
    state.ensure_dir(state_dir)
    state.check_dir(os.path.join(state_dir, "backups"))
    return fileio.locked(paths, state.ensure_dir(os.path.join(state_dir, "locks")))


def _source_modes(plan: Plan) -> list[int]:
    modes = []
    for c in plan.changes:
        try:
            modes.append(os.stat(c.path).st_mode)
        except OSError:
            pass
    return modes


def commit(prep: Prepared, state_dir: str, recheck_source: bool = False,
           keep_record: bool = True) -> bool:
    """Verify, write the plan (atomic, with backups) and update the state record.  The
    caller holds :func:`locked` for the plan's files.

    Returns whether any file changed.  Raises :class:`CtkError` subclasses.
    """
    check_problem(prep)
    verify_unchanged(prep, recheck_source)
    backups = os.path.join(state_dir, "backups")
    if not prep.plan.changed:
        apply_plan(prep.plan, backups)      # only removes what a killed run left
        return False
    current = {os.path.abspath(c.path): c.before for c in prep.plan.changes}
    previous = state.load(state_dir, prep.runtime, prep.config) if keep_record else None
    modes = _source_modes(prep.plan)
    try:
        results = apply_plan(prep.plan, backups)
    except WriteError as exc:
        raise WriteError(f"unable to flush config: {exc}") from None
    for c in prep.plan.changes:
        if c.changed:
            if c.after is None:
                log.info("Removed empty config from %s", c.path)
            else:
                log.info("Wrote updated config to %s", c.path)
    if keep_record and prep.record is not None:
        prep.record.created_dirs = [d for r in results for d in r.created_dirs]
        try:
            state.save(state_dir, state.merge(previous, prep.record, current),
                       fileio.private_mode(*modes))
        except WriteError as exc:
            log.warning("unable to save state for unconfigure: %s", exc)
    return True


# --------------------------------------------------------------------------- unconfigure

def prepare_unconfigure(runtime: str, config: str, drop_in: str, names: list[str],
                        state_dir: str, source: Any = None, extra_paths: tuple[str, ...] = ()) -> Prepared:
    """Plan the removal of what configure added.

    With a state record: every file that still holds exactly what configure wrote gets its
    original bytes back (or is removed if configure created it); a file changed since is
    edited to remove only our handlers, restoring the previous default.  Without a record,
    handlers named ``names`` are removed and our drop-in file is deleted.  A record naming
    any file but ``config``, ``drop_in`` and ``extra_paths`` is refused.
    """
    rec = state.load(state_dir, runtime, os.path.abspath(config))
    if rec is not None:
        state.check_paths(rec, state.record_path(state_dir, runtime, config),
                          [config, drop_in, *extra_paths], drop_in)
    plan = Plan()
    if rec is not None:
        names = rec.names
        paths = [(f.path, f.role, f) for f in rec.files]
    else:
        paths = [(config, "top-level" if runtime != "docker" else "config", None)]
        if drop_in:
            paths.insert(0, (drop_in, "drop-in", None))
    for path, role, frec in paths:
        cur = _read(path, runtime)
        if frec is not None and frec.exact and state.sha(cur) == frec.after_sha256:
            plan.changes.append(FileChange(path, cur, frec.original(), role))
            continue
        if cur is None:
            continue
        if role == "drop-in":
            plan.changes.append(FileChange(path, cur, None, role))
            continue
        if frec is not None:
            log.warning("%s changed since it was configured; removing only the NVIDIA runtime entries", path)
        plan.changes.append(FileChange(path, cur, _semantic_removal(runtime, path, cur, names, rec), role))
    return Prepared(runtime, config, plan, rec)


def _semantic_removal(runtime: str, path: str, cur: bytes, names: list[str],
                      rec: state.Record | None) -> bytes | None:
    prev = rec.previous_default if rec else None
    cdi = rec.cdi_added if rec else False
    imports = rec.imports_added if rec else None
    cleared = rec.default_cleared if rec else False
    try:
        if runtime == "docker":
            cfg = docker.DockerConfig(path, cur)
            new = docker.remove_runtimes(cfg.tree, names, prev, cdi, path)
            from .tomledit import same
            return cur if same(new, cfg.tree) else cfg.render(new)
        top = TomlFile(path, cur)
        if runtime == "containerd":
            version = rec.version if rec and rec.version else containerd.detect_version(top.tree)
            new = containerd.unconfigure_tree(top.tree, version, names, prev, cdi, imports, cleared)
        else:
            new = crio.unconfigure_tree(top.tree, names, prev, cleared)
        return top.render(new)
    except (ConfigLoadError, ConfigContentError) as exc:
        raise type(exc)(f"unable to load config for runtime {runtime}: {exc}") from None


def commit_unconfigure(prep: Prepared, state_dir: str) -> bool:
    """Write the plan and remove the directories configure created (if empty) and the
    record.  The caller holds :func:`locked`.  Returns whether anything changed."""
    verify_unchanged(prep)
    changed = prep.plan.changed
    apply_plan(prep.plan, os.path.join(state_dir, "backups"))
    for c in prep.plan.changes:
        if c.changed:
            log.info("%s %s", "Removed" if c.after is None else "Restored", c.path)
    if prep.record is not None:
        for d in fileio.remove_empty_dirs(prep.record.created_dirs):
            log.info("Removed directory %s", d)
            changed = True
        state.delete(state_dir, prep.runtime, os.path.abspath(prep.config))
    return changed


__all__ = ["ConfigureRequest", "Prepared", "prepare_configure", "commit", "prepare_unconfigure",
           "commit_unconfigure", "verify_unchanged", "locked", "CtkError"]
