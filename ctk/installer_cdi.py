"""The installer's CDI part: the management spec of ``nvidia-ctk install --cdi-enabled``.

``install`` generates the spec through the library call (:func:`cdi.generate.generate`, mode
``management``, kind ``--cdi-kind``, hooks ``<toolkit>/nvidia-cdi-hook``) before anything is
written (:func:`prepare`), then (:func:`commit`) records what it is about to write and writes it
atomically to ``<--cdi-output-dir>/<vendor>-<class>.yaml``.  The record,
``<state-dir>/install/cdi-<hash of the output dir>.json``, holds per file the bytes it replaced
(or that it did not exist), the SHA-256 of what was written, and the directories created for it.
``uninstall`` (:func:`remove`) restores or removes each recorded file that still holds exactly
what install wrote, leaves one that somebody changed since, removes the directories install
created if they are empty, and deletes the record.  Turning CDI on in the runtime
(``--enable-cdi-in-runtime``, default ``--cdi-enabled``) is the runtime configure path's
``--cdi.enabled`` and is reverted with the rest of the runtime config.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from hook.atomicfile import sha256

from . import fileio, state
from .cli_flags import Flag
from .common import log
from . import errors
from .plan import FileChange

__all__ = ["DEFAULT_OUTPUT_DIR", "DEFAULT_KIND", "FLAGS", "validate", "spec_path", "prepare", "commit",
           "undo", "remove", "record_path"]

DEFAULT_OUTPUT_DIR = "/var/run/cdi"
DEFAULT_KIND = "management.nvidia.com/gpu"
ROLE = "cdi-spec"

FLAGS = [
    Flag(("cdi-enabled", "enable-cdi"), "bool", False, "generate the management CDI spec into --cdi-output-dir",
         ("CDI_ENABLED", "ENABLE_CDI")),
    Flag(("cdi-output-dir",), "string", DEFAULT_OUTPUT_DIR, "where --cdi-enabled writes the management CDI spec",
         ("CDI_OUTPUT_DIR",)),
    Flag(("cdi-kind",), "string", DEFAULT_KIND, "the kind (vendor/class) of the management CDI spec", ("CDI_KIND",)),
]


def validate(o) -> None:
    """Raises :class:`UsageError` for a bad ``--cdi-kind`` or ``--cdi-output-dir`` (only with CDI on)."""
    if not o.cdi_enabled:
        return
    from cdi import spec as S
    vendor, _, cls = o.cdi_kind.partition("/")
    for what, name, check in (("vendor", vendor, S.check_vendor), ("class", cls, S.check_class)):
        try:
            check(name)
        except S.SpecError as exc:
            raise errors.UsageError(f"invalid CDI {what} name: {exc}") from None
    if not os.path.isabs(o.cdi_output_dir):
        raise errors.UsageError(f'the CDI output dir "{o.cdi_output_dir}" is not an absolute path')


def spec_path(output_dir: str, kind: str) -> str:
    """Where the spec of ``kind`` goes (the reference's ``<vendor>-<class>.yaml``)."""
    vendor, _, cls = kind.partition("/")
    return os.path.join(output_dir, f"{vendor}-{cls}.yaml")


def prepare(o) -> FileChange | None:
    """Generate the management spec (nothing is written); None without ``--cdi-enabled``.
    Raises :class:`InstallError`."""
    if not o.cdi_enabled:
        return None
    from cdi import output, spec as S
    from cdi import errors as cdi_errors
    from cdi.generate import Options, generate
    vendor, _, cls = o.cdi_kind.partition("/")
    opts = Options(mode="management", driver_root=o.driver_root, vendor=vendor, cls=cls,
                   hook_path=os.path.join(o.toolkit_root, "nvidia-cdi-hook"))
    try:
        spec = generate(opts, log)[0]
        if not any(d["containerEdits"].get("deviceNodes") for d in spec["devices"]):
            raise S.SpecError("no NVIDIA device nodes found")
        S.validate(spec)
    except (cdi_errors.CdiError, S.SpecError) as exc:
        raise errors.InstallError(f"failed to generate CDI spec for management containers: {exc}") from None
    path = spec_path(o.cdi_output_dir, o.cdi_kind)
    return FileChange(path, fileio.read_optional(path, errors.InstallError), output.render(spec, "yaml").encode(), ROLE)


# --------------------------------------------------------------------------- record

@dataclass(slots=True)
class Record:
    output_dir: str
    files: list[state.FileRecord] = field(default_factory=list)
    created_dirs: list[str] = field(default_factory=list)


def record_path(state_dir: str, output_dir: str) -> str:
    key = sha256(os.path.abspath(output_dir).encode())[:16]
    return os.path.join(state_dir, "install", f"cdi-{key}.json")


def _parse(raw: dict) -> Record:
    if not isinstance(raw, dict) or not isinstance(raw.get("output_dir"), str):
        raise ValueError("output_dir must be a string")
    files, dirs = raw.get("files", []), raw.get("created_dirs", [])
    if not isinstance(files, list) or not isinstance(dirs, list) or not all(isinstance(d, str) for d in dirs):
        raise ValueError("files and created_dirs must be lists")
    return Record(raw["output_dir"], [state.parse_file_record(f) for f in files], dirs)


def _load(state_dir: str, output_dir: str) -> Record | None:
    p = record_path(state_dir, output_dir)
    rec = state.load_json(state_dir, p, _parse)
    if rec is None:
        return None
    top = os.path.abspath(output_dir)
    for f in rec.files:
        if os.path.dirname(os.path.abspath(f.path)) != top or f.role != ROLE:
            raise errors.StateError(f"refusing state record {p}: it lists {f.path}, which is not a CDI spec "
                                    f"in --cdi-output-dir {output_dir}")
    for d in rec.created_dirs:
        a = os.path.abspath(d)
        if top != a and not top.startswith(a.rstrip("/") + "/"):
            raise errors.StateError(f"refusing state record {p}: it lists directory {d}, which is not "
                                    f"--cdi-output-dir {output_dir} or a parent of it")
    return rec


def _save(state_dir: str, rec: Record | None, output_dir: str) -> None:
    p = record_path(state_dir, output_dir)
    if rec is not None:
        state.save_json(p, asdict(rec))
        return
    state.remove_record(p)


# --------------------------------------------------------------------------- install / uninstall

@dataclass(frozen=True, slots=True)
class Written:
    """What :func:`commit` did, for :func:`undo`."""

    change: FileChange
    previous: Record | None
    created_dirs: tuple[str, ...]


def commit(change: FileChange, o, state_dir: str) -> Written:
    """Record, then write the spec (a crash in between leaves a record whose hash does not
    match the file, so uninstall leaves the file alone).  Raises :class:`ctk.errors.CtkError`."""
    loaded = _load(state_dir, o.cdi_output_dir)
    prev = loaded or Record(o.cdi_output_dir)
    umask = os.umask(0o022)           # folder and spec readable by all whatever the umask
    try:
        created = fileio.make_dirs(o.cdi_output_dir)
    finally:
        os.umask(umask)
    pf = next((f for f in prev.files if f.path == change.path), None)
    if pf is not None and pf.after_sha256 == sha256(change.before):
        before = pf.before            # still what an earlier install wrote: keep the first original
    else:
        before = state.b64(change.before)
    rec = Record(o.cdi_output_dir, [f for f in prev.files if f.path != change.path]
                 + [state.FileRecord(change.path, ROLE, before, sha256(change.after))],
                 list(dict.fromkeys(prev.created_dirs + list(created))))
    w = Written(change, loaded, created)
    try:
        _save(state_dir, rec, o.cdi_output_dir)
        umask = os.umask(0o022)
        try:
            fileio.write_atomic(change.path, change.after)
        finally:
            os.umask(umask)
    except BaseException:
        undo(w, o, state_dir)
        raise
    log.info("Wrote CDI spec %s", change.path)
    return w


def undo(w: Written, o, state_dir: str) -> None:
    """Take back :func:`commit` (install failed later): the file and the record as before."""
    try:
        if fileio.read_optional(w.change.path) == w.change.after:
            _restore(w.change.path, w.change.before)
        _save(state_dir, w.previous, o.cdi_output_dir)
    except Exception as exc:  # the original failure is what the user must see
        log.warning("unable to take back the CDI spec %s: %s", w.change.path, exc)
    fileio.remove_empty_dirs(w.created_dirs)


def _restore(path: str, original: bytes | None) -> None:
    if original is None:
        fileio.remove(path)
    else:
        fileio.write_atomic(path, original)


def remove(o, state_dir: str) -> list[str]:
    """Uninstall: the spec files install wrote into ``--cdi-output-dir``, restored (a file that
    existed before) or removed; returns their paths.  Raises :class:`ctk.errors.CtkError`."""
    rec = _load(state_dir, o.cdi_output_dir)
    if rec is None:
        return []
    done = []
    for f in rec.files:
        cur = fileio.read_optional(f.path)
        if cur is None:
            continue
        if sha256(cur) != f.after_sha256:
            log.warning("Leaving CDI spec %s: it changed since it was installed", f.path)
            continue
        _restore(f.path, f.original())
        log.info("%s CDI spec %s", "Removed" if f.before is None else "Restored", f.path)
        done.append(f.path)
    fileio.remove_empty_dirs(rec.created_dirs)
    _save(state_dir, None, o.cdi_output_dir)
    return done
