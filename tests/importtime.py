"""Reading ``python -X importtime`` output: what the start-up guards of the tests check."""

from __future__ import annotations


def importers(stderr: str | bytes) -> dict[str, str]:
    """Module -> the module that imported it first (the next less indented row), ``""`` at the top."""
    if isinstance(stderr, bytes):
        stderr = stderr.decode(errors="replace")
    rows = [line.split("|")[-1] for line in stderr.splitlines() if line.startswith("import time:") and "|" in line]
    parents: dict[str, str] = {}
    for i, row in enumerate(rows):
        depth = len(row) - len(row.lstrip())
        parents.setdefault(row.strip(), next((r.strip() for r in rows[i + 1:] if len(r) - len(r.lstrip()) < depth), ""))
    parents.pop("imported package", None)  # the header row
    return parents


def imported(stderr: str | bytes) -> set[str]:
    """The modules the output names."""
    return set(importers(stderr))
