"""Reading ``python -X importtime`` output: what the start-up guards of the tests check."""

from __future__ import annotations

import sys
import sysconfig

from paths import ROOT

#: ``os`` and what it imports: 6.4 Mi instructions, about 0.9 ms, that the interpreter's own start
#: (``python -I -S``) does not pay; the hook's prestart paths use ``hook.oslite`` instead.
OS = ("os", "_collections_abc", "posixpath", "genericpath", "stat")

_DRIVER = """import sys
sys.path[:0] = {paths!r}
module, _, function = sys.argv.pop(1).partition(":")
sys.exit(getattr(__import__(module, fromlist=[function]), function)())
"""


def command(entry: str) -> list[str]:
    """The command line that runs ``module:function`` (reading ``sys.argv[1:]``) under ``-X importtime``
    as the frozen launcher runs it: ``-I -S`` (``site`` and ``runpy``, which ``-m`` needs, import
    ``os``), with the repository and the venv's packages on ``sys.path``."""
    driver = _DRIVER.format(paths=[str(ROOT), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    return [sys.executable, "-I", "-S", "-X", "importtime", "-c", driver, entry]


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
