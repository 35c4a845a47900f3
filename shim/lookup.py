"""Finding executables as upstream's locator does (runtime.md §6, §8.3, §8.5).

A candidate with a ``/`` is used as given when it is an executable non-directory (relative paths
stay relative); a bare name is a glob pattern searched in each ``$PATH`` directory (taken
relative to ``/``), then in the default directories not already on ``PATH``.

``probes``: when a list, every ``stat`` the lookup decided on is appended to it as ``(path,
stat_result or None)`` (a directory that was listed included): the inputs of the exec record
(:mod:`shim.execrecord`).
"""

from __future__ import annotations

from hook import oslite
from hook.gocompat import DEFAULT_PATH_DIRS


_MAGIC = frozenset("*?[\\")


def stat_probe(path: str, probes: list | None = None) -> oslite.stat_result | None:
    """``os.stat(path)``, None when it fails; appended to ``probes`` (see the module docstring)."""
    try:
        st = oslite.stat(path)
    except (OSError, ValueError):
        st = None
    if probes is not None:
        probes.append((path, st))
    return st


def is_executable_file(path: str, probes: list | None = None) -> bool:
    """An existing non-directory with at least one execute bit (symbolic links followed)."""
    st = stat_probe(path, probes)
    return st is not None and oslite.S_IFMT(st.st_mode) != oslite.S_IFDIR and bool(st.st_mode & 0o111)


def search_dirs(path_env: str) -> list[str]:
    """``$PATH`` entries rooted at ``/`` (an empty or relative entry never means the cwd), then the
    default directories that are not already listed."""
    from hook.gocompat import clean

    dirs = [clean("/" + d) for d in path_env.split(":")] if path_env else []
    dirs += [d for d in DEFAULT_PATH_DIRS if d not in dirs]
    return dirs


def locate(candidate: str, path_env: str, probes: list | None = None) -> str | None:
    """The path of ``candidate`` (see the module docstring), or None."""
    if "/" in candidate:
        return candidate if is_executable_file(candidate, probes) else None
    if not candidate:
        return None
    magic = any(c in _MAGIC for c in candidate)
    for d in search_dirs(path_env):
        if not magic:
            p = d.rstrip("/") + "/" + candidate
            if is_executable_file(p, probes):
                return p
            continue
        for p in _glob(d, candidate, probes):
            if is_executable_file(p, probes):
                return p
    return None


def _glob(directory: str, pattern: str, probes: list | None = None) -> list[str]:
    import fnmatch

    if probes is not None:
        stat_probe(directory, probes)  # its entries changed: its times did
    try:
        names = sorted(oslite.listdir(directory))
    except OSError:
        return []
    base = directory.rstrip("/") + "/"
    return [base + n for n in names if (n[0] != "." or pattern[0] == ".") and fnmatch.fnmatchcase(n, pattern)]


def find_runtime(candidates: tuple[str, ...], path_env: str, probes: list | None = None) -> str:
    """The first candidate that resolves (§6).  Raises :class:`~shim.errors.RuntimeLookupError`."""
    from . import errors

    if not candidates:
        raise errors.RuntimeLookupError("error locating runtime: at least one runtime candidate must be specified")
    for c in candidates:
        found = locate(c, path_env, probes)
        if found is not None:
            return found
    raise errors.RuntimeLookupError("error locating runtime: no runtime binary found from candidate list: ["
                                    + " ".join(candidates) + "]")


def resolve_tool(configured: str, default_name: str, fallback: str, path_env: str) -> str:
    """The hook / nvidia-ctk path (§8.3, §8.5): absolute as given, else located, else ``fallback``."""
    if configured.startswith("/"):
        return configured
    return locate(configured or default_name, path_env) or fallback
