"""What an operation will do to the file system, computed before anything is written.

Engines return a :class:`Plan`; the CLI either prints it (``--dry-run`` documents,
``--diff`` unified diffs) or applies it with :func:`apply`, which checks (:func:`check`) that
every target is writable before writing the first file, so a multi-file update is not left
half-done by a read-only directory.
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass, field

from . import fileio


@dataclass(frozen=True, slots=True)
class FileChange:
    """``path`` goes from ``before`` to ``after`` (None = absent / removed)."""

    path: str
    before: bytes | None
    after: bytes | None
    role: str = "config"

    @property
    def changed(self) -> bool:
        return self.before != self.after


@dataclass(slots=True)
class Plan:
    """File changes plus the upstream-style dry-run documents (label, text)."""

    changes: list[FileChange] = field(default_factory=list)
    documents: list[tuple[str, str]] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes)


def unified_diff(plan: Plan) -> str:
    """A unified diff of every changed file (``/dev/null`` for created/removed files)."""
    out: list[str] = []
    for c in plan.changes:
        if not c.changed:
            continue
        a = (c.before or b"").decode("utf-8", "replace").splitlines(keepends=True)
        b = (c.after or b"").decode("utf-8", "replace").splitlines(keepends=True)
        for lines in (a, b):
            if lines and not lines[-1].endswith("\n"):
                lines[-1] += "\n\\ No newline at end of file\n"
        out.extend(difflib.unified_diff(
            a, b,
            fromfile=c.path if c.before is not None else "/dev/null",
            tofile=c.path if c.after is not None else "/dev/null"))
    return "".join(out)


def check(plan: Plan, backup_dir: str | None) -> None:
    """Raise :class:`ctk.errors.WriteError` unless every file ``plan`` changes (and the backup
    directory, if a file is replaced) can be written: run before the first write."""
    todo = [c for c in plan.changes if c.changed]
    for c in todo:
        fileio.check_writable(c.path)
    if backup_dir and any(c.before is not None for c in todo):
        fileio.check_writable(os.path.join(backup_dir, "probe"))


def apply(plan: Plan, backup_dir: str | None) -> list[fileio.WriteResult]:
    """Write/remove every changed file.  Raises :class:`ctk.errors.WriteError`; targets are
    probed for writability first so that a read-only location writes nothing at all.
    Callers hold :func:`ctk.fileio.locked` for the targets: temporary files a killed run
    left beside them are removed."""
    check(plan, backup_dir)
    results = []
    for c in plan.changes:
        fileio.remove_stale_temps(c.path)
        if not c.changed:
            continue
        if c.after is None:
            results.append(fileio.remove(c.path, backup_dir))
        else:
            results.append(fileio.write_atomic(c.path, c.after, backup_dir))
    return results
