"""What configure changed, kept so that unconfigure can undo exactly that.

One JSON record per (runtime, top-level config path) under ``<state-dir>/runtime/``.  For
every file written it holds the original bytes (or that the file did not exist) and the
SHA-256 of what we wrote; plus the semantic facts (handler names, the previous default,
whether we enabled CDI or added an ``imports`` entry) used when a file was edited by
someone else after configure and cannot simply be restored, and the directories configure
created.

A record makes root rewrite files, so it is trusted only if nobody else could have written
it: :func:`load` refuses a record (or a state directory) not owned by us or writable by group
or others, and :func:`check_paths` one that names a file the command was not asked about.
State directories are created ``0700``, records ``0600`` (no more readable than the files
whose bytes they hold), whatever the umask.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import stat
from dataclasses import asdict, dataclass, field, fields

from hook.atomicfile import sha256

from . import fileio
from . import errors

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


@dataclass(slots=True)
class FileRecord:
    path: str
    role: str
    before: str | None          # base64 of the original bytes; None: the file did not exist
    after_sha256: str | None    # SHA-256 of what we wrote; None: we removed it
    exact: bool = True          # ``before`` is the state before the first configure

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
    created_dirs: list[str] = field(default_factory=list)
    default_cleared: bool = False   # a configure removed our default (not set as default again)

    def file(self, path: str) -> FileRecord | None:
        return next((f for f in self.files if f.path == path), None)


def record_path(directory: str, runtime: str, config: str) -> str:
    key = sha256(os.path.abspath(config).encode())[:16]
    return os.path.join(directory, "runtime", f"{runtime}-{key}.json")


#: A record holds at most a few config files; anything larger is not ours.
MAX_RECORD_BYTES = 64 << 20


def _check_trusted(path: str, st: os.stat_result, what: str, owners: tuple[int, ...]) -> None:
    if st.st_uid not in owners:
        raise errors.StateError(f"refusing {what} {path}: it is owned by uid {st.st_uid}, not {os.geteuid()}")
    if st.st_mode & 0o022:
        raise errors.StateError(f"refusing {what} {path}: it is writable by group or others "
                                f"(mode {stat.S_IMODE(st.st_mode):04o})")


def ensure_dir(path: str) -> str:
    """Create ``path`` (and missing parents) ``0700`` whatever the umask, or check that the
    existing one is ours (or root's) and not writable by group or others.  Returns ``path``.
    Raises :class:`StateError` / :class:`ctk.errors.WriteError`."""
    fileio.make_dirs(path, 0o700)
    check_dir(path)
    return path


def check_dir(path: str) -> None:
    """Raise :class:`StateError` if the existing directory ``path`` could be written by
    someone else (absent is fine)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise errors.StateError(f"unusable state directory {path}: {exc.strerror}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise errors.StateError(f"unusable state directory {path}: not a directory")
    _check_trusted(path, st, "state directory", (os.geteuid(), 0))


def load(directory: str, runtime: str, config: str) -> Record | None:
    """The record for ``config`` or None.  Raises :class:`StateError` if it is unreadable,
    malformed, or could have been written by anyone but us."""
    p = record_path(directory, runtime, config)
    return load_json(directory, p, _parse)


def load_json(directory: str, p: str, parse):
    """``parse(json of p)`` or None when ``p`` does not exist, for a record file ``p`` under the
    state directory ``directory``.  Raises :class:`StateError` if it is unreadable, malformed
    (``parse`` raising ValueError, TypeError or KeyError), or could have been written by anyone
    but us."""
    check_dir(directory)
    check_dir(os.path.dirname(p))
    try:
        fd = os.open(p, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise errors.StateError(f"unreadable state record {p}: {exc.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise errors.StateError(f"refusing state record {p}: not a regular file")
        _check_trusted(p, st, "state record", (os.geteuid(),))
        data = f.read(MAX_RECORD_BYTES + 1)
    if len(data) > MAX_RECORD_BYTES:
        raise errors.StateError(f"refusing state record {p}: larger than {MAX_RECORD_BYTES} bytes")
    try:
        return parse(json.loads(data))
    except (ValueError, TypeError, KeyError, RecursionError) as exc:
        raise errors.StateError(f"unreadable state record {p}: {' '.join(str(exc).split())}") from None


def _typed(raw: dict, cls: type, types: dict[str, tuple]) -> dict:
    if not isinstance(raw, dict):
        raise TypeError(f"expected an object for {cls.__name__}")
    known = {f.name for f in fields(cls)}
    out = {k: v for k, v in raw.items() if k in known}
    for k, v in out.items():
        if k in types and not isinstance(v, types[k]):
            raise TypeError(f"{k} has the wrong type")
    return out


def _parse(raw: dict) -> Record:
    NoneT = type(None)
    r = _typed(raw, Record, {"runtime": (str,), "config": (str,), "drop_in": (str,), "names": (list,),
                             "previous_default": (str, NoneT), "cdi_added": (bool,),
                             "imports_added": (str, NoneT), "version": (int, NoneT), "files": (list,),
                             "source": (dict,), "created_dirs": (list,), "default_cleared": (bool,)})
    files = [parse_file_record(x) for x in r.pop("files")]
    if not all(isinstance(n, str) and n for n in r["names"]):
        raise ValueError("names must be a list of non-empty strings")
    if not all(isinstance(d, str) for d in r.get("created_dirs", [])):
        raise ValueError("created_dirs must be a list of strings")
    return Record(files=files, **r)


def parse_file_record(raw: dict) -> FileRecord:
    """A :class:`FileRecord` from its JSON form; raises ValueError / TypeError."""
    NoneT = type(None)
    f = FileRecord(**_typed(raw, FileRecord, {"path": (str,), "role": (str,), "before": (str, NoneT),
                                              "after_sha256": (str, NoneT), "exact": (bool,)}))
    if f.before is not None:
        try:
            base64.b64decode(f.before, validate=True)
        except binascii.Error:
            raise ValueError(f"the original content of {f.path} is not base64") from None
    return f


def check_paths(rec: Record, record_file: str, allowed: list[str], drop_in: str = "") -> None:
    """Raise :class:`StateError` if ``rec`` names a file (or a created directory) other than
    ``allowed`` (and their parent directories), or calls a file other than ``drop_in`` a
    drop-in (which unconfigure deletes): unconfigure touches nothing else."""
    ok = {os.path.abspath(p) for p in allowed if p}
    for f in rec.files:
        if os.path.abspath(f.path) not in ok:
            raise errors.StateError(f"refusing state record {record_file}: it lists {f.path}, which this "
                                    f"command was not asked to change (see --config and --drop-in-config)")
        if f.role == "drop-in" and (not drop_in or os.path.abspath(f.path) != os.path.abspath(drop_in)):
            raise errors.StateError(f"refusing state record {record_file}: it lists {f.path} as the drop-in "
                                    f"file, which is not --drop-in-config")
    parents = set()
    for p in ok:
        for q in (p, os.path.realpath(p)):
            d = os.path.dirname(q)
            while d != os.path.dirname(d):
                parents.add(d)
                d = os.path.dirname(d)
    for d in rec.created_dirs:
        if os.path.abspath(d) not in parents:
            raise errors.StateError(f"refusing state record {record_file}: it lists directory {d}, which is "
                                    f"not a parent of a file this command was asked to change")


def save(directory: str, rec: Record, mode: int = 0o600) -> str:
    """Write ``rec`` (``mode``, at most ``0600``) under ``directory`` (created ``0700``)."""
    return save_json(record_path(directory, rec.runtime, rec.config), asdict(rec), mode)


def save_json(p: str, obj: dict, mode: int = 0o600) -> str:
    """Write the record file ``p`` (``mode``, at most ``0600``; its directory created ``0700``)."""
    ensure_dir(os.path.dirname(p))
    data = json.dumps(obj, indent=2, sort_keys=True).encode() + b"\n"
    fileio.remove_stale_temps(p)
    fileio.write_atomic(p, data, mode=fileio.private_mode(mode), dir_mode=0o700)
    return p


def delete(directory: str, runtime: str, config: str) -> None:
    remove_record(record_path(directory, runtime, config))


def remove_record(p: str) -> None:
    """Remove the state record ``p`` (absent is fine); raises :class:`StateError`."""
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass
    except OSError as exc:
        raise errors.StateError(f"unable to remove state record {p}: {exc.strerror}") from None


def merge(previous: Record | None, new: Record, current: dict[str, bytes | None]) -> Record:
    """Combine a new configure record with an earlier one, so that unconfigure goes back to
    the state before the *first* configure.

    A file that still holds exactly what the earlier configure wrote keeps the earlier
    original.  A file changed by someone else since cannot be restored byte for byte
    without losing that change: it is marked inexact, and unconfigure removes only our
    entries from it.  The previous default is the earlier one unless the default found now
    is not ours (then someone chose it since); CDI, ``imports`` and the created
    directories accumulate.
    """
    if previous is None:
        return new
    files = []
    for f in new.files:
        pf = previous.file(f.path)
        if pf is None:
            files.append(f)
        elif pf.exact and sha256(current.get(f.path)) == pf.after_sha256:
            files.append(FileRecord(f.path, f.role, pf.before, f.after_sha256, True))
        else:
            files.append(FileRecord(f.path, f.role, f.before, f.after_sha256, False))
    for pf in previous.files:
        if all(f.path != pf.path for f in files):
            files.append(pf)
    names = list(dict.fromkeys(previous.names + new.names))
    default = new.previous_default if new.previous_default not in names else previous.previous_default
    dirs = list(dict.fromkeys(previous.created_dirs + new.created_dirs))
    return Record(new.runtime, new.config, new.drop_in, names, default,
                  previous.cdi_added or new.cdi_added, previous.imports_added or new.imports_added,
                  new.version, files, previous.source or new.source, dirs,
                  previous.default_cleared or new.default_cleared)


def b64(data: bytes | None) -> str | None:
    return None if data is None else base64.b64encode(data).decode()
