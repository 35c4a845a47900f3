"""configure / unconfigure as a library: load -> plan -> (check) -> write -> record.

What to write is the engine's decision (:mod:`ctk.engines`: ``plan_configure``, ``remove``);
this module owns what is the same for every engine: the state record, the check that nothing
changed since it was read, the atomic all-or-nothing write and the lock.

:func:`prepare_configure` and :func:`prepare_unconfigure` only read; they return a
:class:`Prepared` whose plan can be printed (dry-run, diff) or committed with
:func:`commit`, which first checks that neither the files to be replaced nor (optionally)
the effective configuration changed since they were read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hook.atomicfile import sha256

from . import engines, fileio, state
from .common import log
from .engines.base import ConfigureRequest, read_config
from . import errors
from .plan import FileChange, Plan
from .plan import apply as apply_plan
from .sources import EmptySource, Snapshot


@dataclass(slots=True)
class Prepared:
    """A computed plan plus what is needed to commit it safely.

    ``problem``: the config holds a non-table where a handler goes (never written, and a dry
    run refuses it too)."""

    runtime: str
    config: str
    plan: Plan
    record: state.Record | None
    snapshot: Snapshot | None = None
    source: Any = None
    problem: str | None = None


def prepare_configure(req: ConfigureRequest, snapshot: Snapshot | None = None) -> Prepared:
    """Read everything and compute the plan (the engine's :meth:`plan_configure`), with the
    record ``unconfigure`` needs.  Raises :class:`CtkError` subclasses."""
    res = engines.get(req.runtime).plan_configure(req, snapshot)
    rec = _record(req, res.plan, res.previous_default or None, res.cdi_added, res.imports_added,
                  res.version, res.snapshot)
    return Prepared(req.runtime, req.config, res.plan, rec, res.snapshot, req.source,
                    res.problem)


def check_problem(prep: Prepared) -> None:
    """Raise :class:`ConfigContentError` when the config holds a non-table where the handler
    goes: a file that would put the handler at another place is never written, and ``--diff``
    and ``--dry-run`` refuse it with the same message (they never promise what the write
    refuses)."""
    if prep.problem:
        raise errors.ConfigContentError(f"unable to update config: {prep.problem}")


def _record(req: ConfigureRequest, plan: Plan, previous_default: str | None, cdi_added: bool,
            imports_added: str | None, version: int | None, snap: Snapshot) -> state.Record:
    files = [state.FileRecord(os.path.abspath(c.path), c.role, state.b64(c.before), sha256(c.after))
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
        except errors.ConfigLoadError as exc:
            problems.append(f"the configuration can no longer be read ({exc})")
        else:
            problems.extend(p for p in prep.snapshot.changes(again) if p not in problems)
    if problems:
        raise errors.ConfigChangedError("the configuration changed since it was read, nothing was "
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


def commit(prep: Prepared, state_dir: str, recheck_source: bool = False) -> bool:
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
    previous = state.load(state_dir, prep.runtime, prep.config)
    modes = _source_modes(prep.plan)
    try:
        results = apply_plan(prep.plan, backups)
    except errors.WriteError as exc:
        raise errors.WriteError(f"unable to flush config: {exc}") from None
    for c in prep.plan.changes:
        if c.changed:
            if c.after is None:
                log.info("Removed empty config from %s", c.path)
            else:
                log.info("Wrote updated config to %s", c.path)
    if prep.record is not None:
        prep.record.created_dirs = [d for r in results for d in r.created_dirs]
        try:
            state.save(state_dir, state.merge(previous, prep.record, current),
                       fileio.private_mode(*modes))
        except errors.WriteError as exc:
            log.warning("unable to save state for unconfigure: %s", exc)
    return True


# --------------------------------------------------------------------------- unconfigure

def prepare_unconfigure(runtime: str, config: str, drop_in: str, names: list[str],
                        state_dir: str, extra_paths: tuple[str, ...] = ()) -> Prepared:
    """Plan the removal of what configure added.

    With a state record: every file that still holds exactly what configure wrote gets its
    original bytes back (or is removed if configure created it); a file changed since is
    edited to remove only our handlers, restoring the previous default.  Without a record,
    handlers named ``names`` are removed and our drop-in file is deleted.  A record naming
    any file but ``config``, ``drop_in`` and ``extra_paths`` is refused.
    """
    engine = engines.get(runtime)
    rec = state.load(state_dir, runtime, os.path.abspath(config))
    if rec is not None:
        state.check_paths(rec, state.record_path(state_dir, runtime, config),
                          [config, drop_in, *extra_paths], drop_in)
    plan = Plan()
    if rec is not None:
        names = rec.names
        paths = [(f.path, f.role, f) for f in rec.files]
    else:
        paths = [(config, engine.config_role, None)]
        if drop_in:
            paths.insert(0, (drop_in, "drop-in", None))
    for path, role, frec in paths:
        cur = read_config(path, runtime)
        if frec is not None and frec.exact and sha256(cur) == frec.after_sha256:
            plan.changes.append(FileChange(path, cur, frec.original(), role))
            continue
        if cur is None:
            continue
        if role == "drop-in":
            plan.changes.append(FileChange(path, cur, None, role))
            continue
        if frec is not None:
            log.warning("%s changed since it was configured; removing only the NVIDIA runtime entries", path)
        try:
            after = engine.remove(path, cur, names, rec)
        except (errors.ConfigLoadError, errors.ConfigContentError) as exc:
            raise type(exc)(f"unable to load config for runtime {runtime}: {exc}") from None
        plan.changes.append(FileChange(path, cur, after, role))
    return Prepared(runtime, config, plan, rec)


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
