"""What configure changed, kept so that unconfigure can undo exactly that.

One JSON record per (runtime, top-level config path) under ``<state-dir>/runtime/``.  For
every file written it holds the original bytes (or that the file did not exist) and the
SHA-256 of what we wrote; plus the semantic facts (handler names, the previous default,
whether we enabled CDI or added an ``imports`` entry) used when a file was edited by
someone else after configure and cannot simply be restored.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field

from . import fileio
from .errors import StateError

DEFAULT_STATE_DIR = "/var/lib/nvidia-ctk"
STATE_DIR_ENV = "NVIDIA_CTK_STATE_DIR"


def state_dir(explicit: str = "") -> str:
    """``explicit``, else ``$NVIDIA_CTK_STATE_DIR``, else ``/var/lib/nvidia-ctk`` for root and
    ``$XDG_STATE_HOME/nvidia-ctk`` (``~/.local/state/nvidia-ctk``) for other users."""
    if explicit or os.environ.get(STATE_DIR_ENV):
        return explicit or os.environ[STATE_DIR_ENV]
    if os.geteuid() == 0:
        return DEFAULT_STATE_DIR
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return os.path.join(base, "nvidia-ctk")


def sha(data: bytes | None) -> str | None:
    return None if data is None else hashlib.sha256(data).hexdigest()


@dataclass(slots=True)
class FileRecord:
    path: str
    role: str
    before: str | None          # base64 of the original bytes; None: the file did not exist
    after_sha256: str | None    # SHA-256 of what we wrote; None: we removed it

    def original(self) -> bytes | None:
        return None if self.before is None else base64.b64decode(self.before)


@dataclass(slots=True)
class Record:
    runtime: str
    config: str
    drop_in: str
    names: list[str]
    previous_default: str | None
    cdi_added: bool
    imports_added: str | None
    version: int | None
    files: list[FileRecord] = field(default_factory=list)
    source: dict = field(default_factory=dict)

    def file(self, path: str) -> FileRecord | None:
        return next((f for f in self.files if f.path == path), None)


def record_path(directory: str, runtime: str, config: str) -> str:
    key = hashlib.sha256(os.path.abspath(config).encode()).hexdigest()[:16]
    return os.path.join(directory, "runtime", f"{runtime}-{key}.json")


def load(directory: str, runtime: str, config: str) -> Record | None:
    """The record for ``config`` or None.  Raises :class:`StateError` if it is unreadable."""
    p = record_path(directory, runtime, config)
    try:
        with open(p, "rb") as f:
            raw = json.loads(f.read())
        files = [FileRecord(**x) for x in raw.pop("files")]
        return Record(files=files, **raw)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, KeyError) as exc:
        raise StateError(f"unreadable state record {p}: {exc}") from None


def save(directory: str, rec: Record) -> str:
    p = record_path(directory, rec.runtime, rec.config)
    data = json.dumps(asdict(rec), indent=2, sort_keys=True).encode() + b"\n"
    fileio.write_atomic(p, data)
    return p


def delete(directory: str, runtime: str, config: str) -> None:
    fileio.remove(record_path(directory, runtime, config))


def merge(previous: Record | None, new: Record, current: dict[str, bytes | None]) -> Record:
    """Combine a new configure record with an earlier one.

    A file that still holds exactly what the earlier configure wrote keeps the earlier
    *original* (so unconfigure goes back to the state before the first configure); the
    earlier previous default and CDI/imports facts are kept likewise.
    """
    if previous is None:
        return new
    still_ours = all(
        (pf := previous.file(f.path)) is None or sha(current.get(f.path)) == pf.after_sha256
        for f in new.files)
    if not still_ours:
        return new
    files = []
    for f in new.files:
        pf = previous.file(f.path)
        files.append(FileRecord(f.path, f.role, pf.before if pf else f.before, f.after_sha256))
    for pf in previous.files:
        if all(f.path != pf.path for f in files):
            files.append(pf)
    names = list(dict.fromkeys(previous.names + new.names))
    return Record(new.runtime, new.config, new.drop_in, names, previous.previous_default,
                  previous.cdi_added or new.cdi_added, previous.imports_added or new.imports_added,
                  new.version, files, previous.source or new.source)


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()
