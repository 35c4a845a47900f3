"""Reading ``python -X importtime`` output: what the start-up guards of the tests check."""

from __future__ import annotations

import sys
import sysconfig

from paths import ROOT

#: ``os`` and what it imports: 6.4 Mi instructions, about 0.9 ms, that the interpreter's own start
#: (``python -I -S``) does not pay; the hook's prestart paths use ``hook.oslite`` instead.
OS = ("os", "_collections_abc", "posixpath", "genericpath", "stat")

_ENTRY = """module, _, function = sys.argv.pop(1).partition(":")
sys.exit(getattr(__import__(module, fromlist=[function]), function)())
"""


def code_command(code: str) -> list[str]:
    """The command line that runs the Python ``code`` under ``-X importtime`` as the frozen launcher runs
    a program: ``-I -S`` (``site`` and ``runpy``, which ``-m`` needs, import ``os``), with the repository
    and the venv's packages on ``sys.path``."""
    paths = [str(ROOT), sysconfig.get_path("purelib"), sysconfig.get_path("platlib")]
    return [sys.executable, "-I", "-S", "-X", "importtime", "-c", f"import sys\nsys.path[:0] = {paths!r}\n{code}"]


def command(entry: str) -> list[str]:
    """:func:`code_command` that runs ``module:function`` (which reads ``sys.argv[1:]``)."""
    return [*code_command(_ENTRY), entry]


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
