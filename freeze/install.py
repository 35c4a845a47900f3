"""Install / uninstall the frozen binary (``./build.sh install|uninstall``).

    python -m freeze.install install   [--prefix P] [--sysconfdir D] [--localstatedir D] [--datadir D]
                                       [--destdir DIR] [--binary FILE] [--force]
    python -m freeze.install uninstall [--prefix P] [--sysconfdir D] [--localstatedir D] [--datadir D]
                                       [--destdir DIR]

Each option defaults to its environment variable (``PREFIX``, ``SYSCONFDIR``,
``LOCALSTATEDIR``, ``DATADIR``, ``DESTDIR``), else to the convention of GNU and
meson: ``PREFIX`` ``/usr``; ``DATADIR`` ``$PREFIX/share``; ``SYSCONFDIR``
``$PREFIX/etc`` and ``LOCALSTATEDIR`` ``$PREFIX/var``, except that with the prefix
``/usr`` they are ``/etc`` and ``/var``.  Install puts:

* ``$PREFIX/bin/nvidia-container-runtime-hook``: the single-file binary (0755);
* ``$PREFIX/bin/<name>``, a symbolic link to it, for every other program name the
  binary answers to (``nvidia-container-toolkit``, ``nvidia-ctk``, ...: read from
  the binary's note, see :func:`ctk.toolkit.program_names`);
* ``$SYSCONFDIR/nvidia-container-runtime/config.toml``: the default config, **only if
  no file is there** (a user's file is never touched);
* ``$DATADIR/containers/oci/hooks.d/oci-nvidia-hook.json``: the hooks.d registration
  for podman / CRI-O, naming ``$PREFIX/bin/nvidia-container-runtime-hook``;

each under ``$DESTDIR``, and records what it added (and any file it replaced, with
``--force`` only) in ``$LOCALSTATEDIR/lib/nvidia-container-hook-py/install-manifest.json``
(paths without ``$DESTDIR``).  It prints each path it writes as written (with ``$DESTDIR``).
Uninstall reads that manifest and removes exactly what install added: files still as
installed, links still pointing where they were made to, directories it created once
empty; files it replaced are put back.  A config file the user has edited since is kept
(and reported).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from freeze.programs import PROGRAMS
from hook import atomicfile

ROOT = Path(__file__).resolve().parent.parent
BINARY_NAME = "nvidia-container-runtime-hook"
DEFAULT_BINARY = ROOT / "dist" / BINARY_NAME
HOOK_CONFIG = "/etc/nvidia-container-runtime/config.toml"  # where the hook looks by default
MANIFEST_NAME = "install-manifest.json"


class InstallError(Exception):
    """Install or uninstall cannot proceed; nothing was changed by the failing step."""


@dataclass(frozen=True)
class Layout:
    """Where things go: absolute installed paths (no trailing slash), ``destdir`` put in front on disk.

    Build it with :meth:`of`."""
    prefix: str
    destdir: str
    sysconfdir: str
    localstatedir: str
    datadir: str

    @classmethod
    def of(cls, prefix: str = "/usr", destdir: str = "", sysconfdir: str = "", localstatedir: str = "",
           datadir: str = "") -> Layout:
        """The layout for ``prefix``; a directory not given follows GNU and meson (for the
        prefix ``/usr``, ``/etc`` and ``/var``; else under the prefix)."""
        prefix = prefix.rstrip("/")
        base = "" if prefix == "/usr" else prefix
        return cls(prefix or "/", destdir.rstrip("/"), (sysconfdir or f"{base}/etc").rstrip("/"),
                   (localstatedir or f"{base}/var").rstrip("/"), (datadir or f"{prefix}/share").rstrip("/"))

    def real(self, path: str) -> Path:
        """The on-disk location of an installed absolute path (DESTDIR applied)."""
        return Path(self.destdir + path) if self.destdir else Path(path)

    def bin(self, name: str) -> str:
        return f"{self.prefix.rstrip('/')}/bin/{name}"

    @property
    def bin_path(self) -> str:
        return self.bin(BINARY_NAME)

    @property
    def config_path(self) -> str:
        return f"{self.sysconfdir}/nvidia-container-runtime/config.toml"

    @property
    def hooksd_path(self) -> str:
        return f"{self.datadir}/containers/oci/hooks.d/oci-nvidia-hook.json"

    @property
    def state_dir(self) -> str:
        return f"{self.localstatedir}/lib/nvidia-container-hook-py"

    @property
    def manifest(self) -> Path:
        return self.real(f"{self.state_dir}/{MANIFEST_NAME}")


def programs_of(binary: Path, data: bytes) -> list[str]:
    """The program names the frozen binary answers to (its note, written by freeze/mkfrozen.py)."""
    from ctk.toolkit import program_names
    names = program_names(data)
    if not names:
        raise InstallError(f"{binary}: not a binary built by freeze/build.sh (it names no programs)")
    unknown = [n for n in names if n not in PROGRAMS]
    if unknown or BINARY_NAME not in names:
        raise InstallError(f"{binary}: unexpected program names {' '.join(names)!r}")
    return names


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
    planned = [(layout.bin_path, "file", binary_data, 0o755)]
    planned += [(layout.bin(name), "symlink", BINARY_NAME, None)
                for name in programs_of(binary, binary_data) if name != BINARY_NAME]
    planned.append((layout.hooksd_path, "file", hooksd_text, 0o644))

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
    _makedirs(layout, layout.state_dir, record)
    backups = f"{layout.state_dir}/backup"

    for path, kind, payload, mode in planned:
        real = layout.real(path)
        _makedirs(layout, str(Path(path).parent), record)
        backup = None
        if path in conflicts:
            layout.real(backups).mkdir(mode=0o700, exist_ok=True)  # foreign files: no more readable than before
            backup = f"{backups}/{path.lstrip('/').replace('/', '%')}"
            os.replace(real, layout.real(backup))
        elif path not in owned and (real.exists() or real.is_symlink()):
            print(f"kept (identical, not ours): {real}", file=out)
            continue
        if kind == "symlink":
            atomicfile.symlink(payload, str(real))
            entry = {"kind": "symlink", "path": path, "target": payload}
        else:
            atomicfile.write(str(real), payload, atomicfile.Meta(mode))
            entry = {"kind": "file", "path": path, "sha256": atomicfile.sha256(payload)}
        if backup:
            entry["backup"] = backup
        elif path in owned and "backup" in owned[path]:
            entry["backup"] = owned[path]["backup"]
        record.append(entry)
        print(f"installed {real}", file=out)

    config = layout.config_path
    cfg = layout.real(config)
    if cfg.exists() or cfg.is_symlink():
        if config not in owned:
            print(f"kept existing {cfg}", file=out)
    else:
        _makedirs(layout, str(Path(config).parent), record)
        from ctk.toolkitconfig import DEFAULT
        data = DEFAULT.encode()
        atomicfile.write(str(cfg), data, atomicfile.Meta(0o644))
        record.append({"kind": "file", "path": config, "sha256": atomicfile.sha256(data),
                       "config": True})
        print(f"installed {cfg} (default)", file=out)
    if config != HOOK_CONFIG:
        print(f"note: the hook reads {HOOK_CONFIG} unless told otherwise: pass -config {config} "
              f"or set NVIDIA_CTK_CONFIG_FILE_PATH={config} (docs/install.md)", file=out)

    for e in record:
        if e["path"] in known:
            entries = [x if x["path"] != e["path"] else e for x in entries]
        else:
            entries.append(e)
            known.add(e["path"])
    manifest = {"prefix": layout.prefix, "sysconfdir": layout.sysconfdir, "localstatedir": layout.localstatedir,
                "datadir": layout.datadir, "entries": entries}
    manifest_data = (json.dumps(manifest, indent=2) + "\n").encode()
    atomicfile.write(str(layout.manifest), manifest_data, atomicfile.Meta(0o644))
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
        real = layout.real(e["path"])
        if e["kind"] == "symlink":
            ours = real.is_symlink() and os.readlink(real) == e["target"]
        else:
            ours = real.is_file() and not real.is_symlink() and atomicfile.sha256(real.read_bytes()) == e["sha256"]
        if ours:
            real.unlink()
            print(f"removed {real}", file=out)
        elif real.exists() or real.is_symlink():
            what = "edited since install" if e.get("config") else "changed since install"
            print(f"kept {real} ({what})", file=out)
        backup = layout.real(e["backup"]) if e.get("backup") else None
        if backup and backup.exists() and not (real.exists() or real.is_symlink()):
            os.replace(backup, real)
            print(f"restored {real}", file=out)
    layout.manifest.unlink()
    try:
        layout.real(f"{layout.state_dir}/backup").rmdir()
    except OSError:
        pass
    for e in reversed(entries):  # children before parents
        d = layout.real(e["path"])
        if e["kind"] == "dir" and d.is_dir():
            try:
                d.rmdir()
            except OSError:
                print(f"kept non-empty directory {d}", file=out)


def main(argv: list[str] | None = None) -> int:
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="./build.sh", description=__doc__.split("\n\n")[0],
        epilog="Each option takes precedence over its environment variable (docs/install.md).")
    parser.add_argument("action", choices=("install", "uninstall"))
    parser.add_argument("--prefix", default=env("PREFIX") or "/usr",
                        help="where bin/ goes (default: $PREFIX, else /usr)")
    parser.add_argument("--sysconfdir", default=env("SYSCONFDIR") or "",
                        help="where nvidia-container-runtime/config.toml goes (default: $SYSCONFDIR, "
                             "else /etc for the prefix /usr, else PREFIX/etc)")
    parser.add_argument("--localstatedir", default=env("LOCALSTATEDIR") or "",
                        help="where lib/nvidia-container-hook-py/ (the install manifest) goes (default: "
                             "$LOCALSTATEDIR, else /var for the prefix /usr, else PREFIX/var)")
    parser.add_argument("--datadir", default=env("DATADIR") or "",
                        help="where containers/oci/hooks.d/ goes (default: $DATADIR, else PREFIX/share)")
    parser.add_argument("--destdir", default=env("DESTDIR", ""),
                        help="staging root put in front of every path written (default: $DESTDIR, else none)")
    parser.add_argument("--binary", type=Path, default=DEFAULT_BINARY,
                        help="the frozen binary to install (default: %(default)s)")
    parser.add_argument("--force", action="store_true",
                        help="replace files not installed by us (kept aside, restored by uninstall)")
    args = parser.parse_args(argv)
    for name in ("prefix", "sysconfdir", "localstatedir", "datadir"):
        value = getattr(args, name)
        if value and not value.startswith("/"):
            parser.error(f"{name.upper()} must be absolute: {value!r}")
    destdir = args.destdir.rstrip("/")
    if destdir and not destdir.startswith("/"):
        destdir = os.path.abspath(destdir)
    layout = Layout.of(args.prefix, destdir, args.sysconfdir, args.localstatedir, args.datadir)
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
