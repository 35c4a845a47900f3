"""Install / uninstall the frozen hook (``./build.sh install|uninstall``).

    python -m freeze.install install   [--prefix /usr] [--destdir DIR] [--binary FILE] [--force]
    python -m freeze.install uninstall [--prefix /usr] [--destdir DIR]

``PREFIX`` and ``DESTDIR`` are read from the environment when the options are
not given (defaults ``/usr`` and empty).  Install puts:

* ``$PREFIX/bin/nvidia-container-runtime-hook``: the single-file binary (0755);
* ``$PREFIX/bin/nvidia-container-toolkit``: a symbolic link to it (the alias);
* ``/etc/nvidia-container-runtime/config.toml``: the default config, **only if
  no file is there** (a user's file is never touched);
* ``/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json``: the hooks.d
  registration for podman / CRI-O, naming ``$PREFIX/bin/nvidia-container-runtime-hook``;

each under ``$DESTDIR``, and records what it added (and any file it replaced,
with ``--force`` only) in ``$DESTDIR/var/lib/nvidia-container-hook-py/install-manifest.json``.
Uninstall reads that manifest and removes exactly what install added: files
still as installed, links still pointing where they were made to, directories it
created once empty; files it replaced are put back.  A config file the user has
edited since is kept (and reported).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BINARY_NAME = "nvidia-container-runtime-hook"
ALIAS_NAME = "nvidia-container-toolkit"
CONFIG_PATH = "/etc/nvidia-container-runtime/config.toml"
HOOKSD_PATH = "/usr/share/containers/oci/hooks.d/oci-nvidia-hook.json"
STATE_DIR = "/var/lib/nvidia-container-hook-py"
MANIFEST_NAME = "install-manifest.json"
DEFAULT_CONFIG = Path(__file__).resolve().parent / "config.toml"


class InstallError(Exception):
    """Install or uninstall cannot proceed; nothing was changed by the failing step."""


@dataclass(frozen=True)
class Layout:
    prefix: str
    destdir: str

    def real(self, path: str) -> Path:
        """The on-disk location of an installed absolute path (DESTDIR applied)."""
        return Path(self.destdir + path) if self.destdir else Path(path)

    @property
    def bin_path(self) -> str:
        return f"{self.prefix.rstrip('/')}/bin/{BINARY_NAME}"

    @property
    def alias_path(self) -> str:
        return f"{self.prefix.rstrip('/')}/bin/{ALIAS_NAME}"

    @property
    def manifest(self) -> Path:
        return self.real(f"{STATE_DIR}/{MANIFEST_NAME}")


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(target: Path, data: bytes, mode: int) -> None:
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _makedirs(layout: Layout, path: str, record: list[dict]) -> None:
    """Create the directories of installed path ``path``, recording the ones made."""
    if layout.destdir:
        Path(layout.destdir).mkdir(parents=True, exist_ok=True)  # the staging root: not ours
    missing = []
    p = Path(path)
    while p != p.parent and not layout.real(str(p)).exists():
        missing.append(str(p))
        p = p.parent
    for d in reversed(missing):
        layout.real(d).mkdir(mode=0o755)
        record.append({"kind": "dir", "path": d})


def _load_manifest(layout: Layout) -> dict | None:
    try:
        return json.loads(layout.manifest.read_text())
    except FileNotFoundError:
        return None


def _owned(manifest: dict | None) -> dict[str, dict]:
    return {e["path"]: e for e in (manifest or {}).get("entries", [])}


def install(layout: Layout, binary: Path, force: bool = False, out=sys.stdout) -> list[dict]:
    """Install; returns the manifest entries.  Raises :class:`InstallError` before changing anything."""
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise InstallError(f"{binary}: no executable hook binary (run ./build.sh dist first)")
    from hook import hooksd  # the registration document is the hook's own

    previous = _load_manifest(layout)
    owned = _owned(previous)
    hooksd_text = hooksd.render(layout.bin_path).encode()
    binary_data = binary.read_bytes()
    planned = [(layout.bin_path, "file", binary_data, 0o755),
               (layout.alias_path, "symlink", BINARY_NAME, None),
               (HOOKSD_PATH, "file", hooksd_text, 0o644)]

    # Refuse, before touching anything, to replace a file that is not ours (unless --force).
    conflicts = []
    for path, kind, payload, _ in planned:
        real = layout.real(path)
        if path in owned or not (real.exists() or real.is_symlink()):
            continue
        if kind == "symlink" and real.is_symlink() and os.readlink(real) == payload:
            continue
        if kind == "file" and real.is_file() and not real.is_symlink() and real.read_bytes() == payload:
            continue
        conflicts.append(path)
    if conflicts and not force:
        raise InstallError("refusing to replace files this installer did not add: "
                           + ", ".join(conflicts) + " (use --force: they are kept and restored by uninstall)")

    entries: list[dict] = [e for e in (previous or {}).get("entries", [])]
    known = {e["path"] for e in entries}
    record: list[dict] = []
    state_dir = layout.real(STATE_DIR)
    _makedirs(layout, STATE_DIR, record)
    backups = state_dir / "backup"

    for path, kind, payload, mode in planned:
        real = layout.real(path)
        _makedirs(layout, str(Path(path).parent), record)
        backup = None
        if path in conflicts:
            backups.mkdir(exist_ok=True)
            backup = str(backups / path.lstrip("/").replace("/", "%"))
            os.replace(real, backup)
        elif path not in owned and (real.exists() or real.is_symlink()):
            print(f"kept (identical, not ours): {path}", file=out)
            continue
        if kind == "symlink":
            tmp = real.with_name(f".{real.name}.tmp-{os.getpid()}")
            tmp.unlink(missing_ok=True)
            os.symlink(payload, tmp)
            os.replace(tmp, real)
            entry = {"kind": "symlink", "path": path, "target": payload}
        else:
            _atomic_write(real, payload, mode)
            entry = {"kind": "file", "path": path, "sha256": hashlib.sha256(payload).hexdigest()}
        if backup:
            entry["backup"] = backup
        elif path in owned and "backup" in owned[path]:
            entry["backup"] = owned[path]["backup"]
        record.append(entry)
        print(f"installed {path}", file=out)

    cfg = layout.real(CONFIG_PATH)
    if cfg.exists() or cfg.is_symlink():
        if CONFIG_PATH not in owned:
            print(f"kept existing {CONFIG_PATH}", file=out)
    else:
        _makedirs(layout, str(Path(CONFIG_PATH).parent), record)
        data = DEFAULT_CONFIG.read_bytes()
        _atomic_write(cfg, data, 0o644)
        record.append({"kind": "file", "path": CONFIG_PATH, "sha256": hashlib.sha256(data).hexdigest(),
                       "config": True})
        print(f"installed {CONFIG_PATH} (default)", file=out)

    for e in record:
        if e["path"] in known:
            entries = [x if x["path"] != e["path"] else e for x in entries]
        else:
            entries.append(e)
            known.add(e["path"])
    manifest = {"prefix": layout.prefix, "entries": entries}
    _atomic_write(layout.manifest, (json.dumps(manifest, indent=2) + "\n").encode(), 0o644)
    return entries


def uninstall(layout: Layout, out=sys.stdout) -> None:
    """Remove what :func:`install` recorded.  Raises :class:`InstallError` without a manifest."""
    manifest = _load_manifest(layout)
    if manifest is None:
        raise InstallError(f"nothing to uninstall: no {layout.manifest}")
    entries = manifest["entries"]
    for e in reversed(entries):
        if e["kind"] == "dir":
            continue
        path, real = e["path"], layout.real(e["path"])
        if e["kind"] == "symlink":
            ours = real.is_symlink() and os.readlink(real) == e["target"]
        else:
            ours = real.is_file() and not real.is_symlink() and _sha256(real) == e["sha256"]
        if ours:
            real.unlink()
            print(f"removed {path}", file=out)
        elif real.exists() or real.is_symlink():
            what = "edited since install" if e.get("config") else "changed since install"
            print(f"kept {path} ({what})", file=out)
        if e.get("backup") and Path(e["backup"]).exists() and not (real.exists() or real.is_symlink()):
            os.replace(e["backup"], real)
            print(f"restored {path}", file=out)
    layout.manifest.unlink()
    try:
        (layout.real(STATE_DIR) / "backup").rmdir()
    except OSError:
        pass
    for e in reversed(entries):  # children before parents
        if e["kind"] == "dir" and layout.real(e["path"]).is_dir():
            try:
                layout.real(e["path"]).rmdir()
            except OSError:
                print(f"kept non-empty directory {e['path']}", file=out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="./build.sh", description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=("install", "uninstall"))
    parser.add_argument("--prefix", default=os.environ.get("PREFIX") or "/usr")
    parser.add_argument("--destdir", default=os.environ.get("DESTDIR", ""))
    parser.add_argument("--binary", type=Path, default=ROOT / "dist" / BINARY_NAME,
                        help="the hook binary to install (default: dist/%(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="replace files not installed by us (kept aside, restored by uninstall)")
    args = parser.parse_args(argv)
    if not args.prefix.startswith("/"):
        parser.error(f"PREFIX must be absolute: {args.prefix!r}")
    destdir = args.destdir.rstrip("/")
    if destdir and not destdir.startswith("/"):
        destdir = os.path.abspath(destdir)
    layout = Layout(prefix=args.prefix.rstrip("/") or "/", destdir=destdir)
    try:
        if args.action == "install":
            install(layout, args.binary, force=args.force)
        else:
            uninstall(layout)
    except InstallError as exc:
        print(f"{args.action}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
