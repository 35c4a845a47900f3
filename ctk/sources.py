"""Config sources: where the *effective* runtime configuration comes from.

Every source returns a :class:`Snapshot`: the parsed tree (plain dicts), a description of
where it came from, and a fingerprint of everything that was read (file contents, command
output), so a later step can check that what it is about to modify is still what was read
(:func:`Snapshot.changes`).

Kinds (see docs/runtime-config.md):

* :class:`FileSource` - one TOML file; missing file -> empty tree (upstream ``file``).
* :class:`CommandSource` - run a command, parse its stdout (upstream ``command``:
  ``containerd config dump``, ``crio status config`` with ``crio-status config`` fallback).
* :class:`FirstOf` - the first source that loads (upstream's list semantics).

The sources that know an engine's layout belong to that engine (:mod:`ctk.engines`):
``containerd config dump`` and a file with its ``imports``
(:class:`ctk.engines.containerd.ContainerdImportsSource`), ``crio status config`` and
``crio.conf`` with ``crio.conf.d`` (:class:`ctk.engines.crio.CrioDropInSource`), Docker's
``daemon.json`` (:class:`ctk.engines.docker.DaemonJsonSource`).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from hook import tomlcompat
from hook.atomicfile import sha256

from . import errors


def _canonical(tree: Any) -> bytes:
    return json.dumps(tree, sort_keys=True, default=str).encode()


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A loaded configuration.

    ``inputs`` maps what was read ("file:<path>" or "command:<argv>") to the SHA-256 of its
    bytes (None: the file did not exist).  ``digest`` is the SHA-256 of the parsed tree.
    ``document``: the editable form the tree was parsed from, when a source has one (an
    engine then edits it instead of reading and parsing the file again).
    """

    tree: dict
    origin: str
    inputs: tuple[tuple[str, str | None], ...] = ()
    digest: str = ""
    document: Any = field(default=None, compare=False, repr=False)

    @staticmethod
    def make(tree: dict, origin: str, inputs: Sequence[tuple[str, str | None]],
             document: Any = None) -> "Snapshot":
        return Snapshot(tree, origin, tuple(inputs), sha256(_canonical(tree)),
                        document)


    def fingerprint(self) -> dict:
        return {"origin": self.origin, "digest": self.digest, "inputs": [list(i) for i in self.inputs]}

    def changes(self, other: "Snapshot") -> list[str]:
        """Human-readable differences between what ``self`` and ``other`` read (empty: same)."""
        out: list[str] = []
        mine, theirs = dict(self.inputs), dict(other.inputs)
        for key in sorted(set(mine) | set(theirs)):
            a, b = mine.get(key, "<not read>"), theirs.get(key, "<not read>")
            if a != b:
                kind, _, what = key.partition(":")
                if kind == "file":
                    if a is None:
                        out.append(f"{what} was created")
                    elif b is None:
                        out.append(f"{what} was removed")
                    else:
                        out.append(f"{what} was modified")
                else:
                    out.append(f"the output of `{what}` changed")
        if not out and self.digest != other.digest:
            out.append(f"the configuration read from {self.origin} changed")
        return out


class Source(Protocol):
    def load(self) -> Snapshot: ...

    def describe(self) -> str: ...


def _parse_toml(data: bytes, what: str) -> dict:
    """TOML as the reference reads it (go-toml v1's extensions accepted, see hook.tomlcompat)."""
    try:
        return tomlcompat.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise errors.ConfigLoadError(f"{what}: invalid UTF-8 at byte {exc.start}") from None
    except tomlcompat.TOMLError as exc:
        raise errors.ConfigLoadError(f"{what}: {exc}") from None


def read_file(path: str) -> bytes | None:
    """File bytes, None if missing; raises :class:`ConfigLoadError` for other read errors."""
    from .fileio import read_optional
    return read_optional(path, errors.ConfigLoadError)


@dataclass(frozen=True, slots=True)
class EmptySource:
    def load(self) -> Snapshot:
        return Snapshot.make({}, "empty", [])

    def describe(self) -> str:
        return "empty"


@dataclass(frozen=True, slots=True)
class FileSource:
    """One TOML file; ``""`` or a missing file is an empty tree."""

    path: str

    def load(self) -> Snapshot:
        if not self.path:
            return Snapshot.make({}, "empty", [])
        data = read_file(self.path)
        if data is None:
            return Snapshot.make({}, f"file {self.path}", [(f"file:{self.path}", None)])
        return Snapshot.make(_parse_toml(data, self.path), f"file {self.path}",
                             [(f"file:{self.path}", sha256(data))])

    def describe(self) -> str:
        return f"file {self.path}"


@dataclass(frozen=True, slots=True)
class CommandSource:
    """Run ``argv`` (no shell) and parse its standard output as TOML."""

    argv: tuple[str, ...]
    timeout: float = 60.0

    def load(self) -> Snapshot:
        shown = f"{self.argv[0]} [{' '.join(self.argv[1:])}]"
        try:
            proc = subprocess.run(list(self.argv), stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=self.timeout)
        except FileNotFoundError:
            raise errors.SourceError(f"failed to run command {shown}: exec: \"{self.argv[0]}\": "
                                     "executable file not found in $PATH") from None
        except subprocess.TimeoutExpired:
            raise errors.SourceError(f"failed to run command {shown}: timed out after {self.timeout:g}s") from None
        except OSError as exc:
            raise errors.SourceError(f"failed to run command {shown}: {exc.strerror}") from None
        if proc.returncode != 0:
            status = (f"exit status {proc.returncode}" if proc.returncode > 0
                      else f"signal {-proc.returncode}")
            raise errors.SourceError(f"failed to run command {shown}: {status}")
        key = f"command:{' '.join(self.argv)}"
        return Snapshot.make(_parse_toml(proc.stdout, f"output of {' '.join(self.argv)}"),
                             f"command {' '.join(self.argv)}", [(key, sha256(proc.stdout))])

    def describe(self) -> str:
        return f"command {' '.join(self.argv)}"


@dataclass(frozen=True, slots=True)
class FirstOf:
    """The first of ``sources`` that loads; all errors joined when none does."""

    sources: tuple[Any, ...]

    def load(self) -> Snapshot:
        problems = []
        for s in self.sources:
            if s is None:
                continue
            try:
                return s.load()
            except errors.ConfigLoadError as exc:
                problems.append(str(exc))
        raise errors.ConfigLoadError("; ".join(problems) if problems else "no config source")

    def describe(self) -> str:
        return " or ".join(s.describe() for s in self.sources if s is not None)


def deep_merge(base: dict, overlay: dict) -> dict:
    out = dict(base)
    for k, v in overlay.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def chroot_argv(host_root: str, argv: Sequence[str]) -> tuple[str, ...]:
    """``argv`` run inside ``host_root`` (no chroot for ``""`` or ``/``)."""
    if host_root in ("", "/"):
        return tuple(argv)
    return ("chroot", host_root, *argv)


def host_path(host_root: str, path: str) -> str:
    """``path`` (in our filesystem) as seen inside ``host_root``: the prefix removed when it is
    under the host root, else unchanged (the host's directory mounted at the same path)."""
    if host_root in ("", "/"):
        return path
    root = host_root.rstrip("/")
    return path[len(root):] if path.startswith(root + "/") else path
