"""The programs of the one frozen binary: the name it is called by → ``module:function``.

The launcher runs ``sys.exit(function())`` of the row whose name is the base name of
``argv[0]``; under any other name it runs the first row (the hook, as before there were
several programs).  ``./build.sh install`` installs every name the binary was built with,
and ``pyproject.toml`` has one console script per row (a test keeps the two equal).

Only the rows whose package is in the tree at build time are frozen in; called under the
name of a row left out, the binary says so and exits 1.  Adding a program is one line here
and its console script in ``pyproject.toml``.
"""

from __future__ import annotations

__all__ = ["PROGRAMS", "PROGRAMS_NOTE", "COLLECTING", "REPLAYING", "package_of"]

PROGRAMS: dict[str, str] = {
    "nvidia-container-runtime-hook": "hook.main:entry",
    "nvidia-container-toolkit": "hook.main:entry",
    "nvidia-ctk": "ctk.cli:main",
    "nvidia-container-runtime": "shim.main:main",
    "nvidia-container-runtime.legacy": "shim.main:main",
    "nvidia-container-runtime.cdi": "shim.main:main",
    "nvidia-cdi-hook": "cdi.hook:main",
}

# The programs that keep CPython's cyclic garbage collector.  The others run once per runtime call
# (a hook, the runtime shim, a CDI hook), for milliseconds, on inputs read with a bound: the
# launcher starts them with the collector off (``PyGC_Disable``), so that no collection runs (it
# cost 4-5 % of a GPU container's hook run, 0.2 ms; docs/performance.md).  Reference counting frees
# what they drop; a cycle lives until the process exits, a few milliseconds later.
COLLECTING: frozenset[str] = frozenset({"nvidia-ctk"})

# The programs whose launcher first replays the exec record of an installed toolkit's runtime
# (shim/execrecord.py): the runtime shim under each of its names (every name whose entry is
# ``shim.main``).  A pass-through call whose inputs are unchanged then never starts the interpreter
# (docs/performance.md, "The runtime's exec record").
REPLAYING: frozenset[str] = frozenset(name for name, entry in PROGRAMS.items() if entry.startswith("shim.main:"))

# The launcher carries this line, then the names it was built with (space-separated, then a
# newline): how ``./build.sh install`` and ``nvidia-ctk install`` know which names a binary answers
# to (the reader is ctk.toolkit.program_names, which the frozen nvidia-ctk carries).
from ctk.toolkit import PROGRAMS_NOTE  # noqa: E402


def package_of(entry: str) -> str:
    """The top-level package of ``module:function``."""
    return entry.partition(":")[0].split(".")[0]
