"""``update-ldcache [--folder DIR]... [--ldconfig-path P]`` (spec 5.1).

Writes the ld.so.conf.d drop-ins inside the container root (every path resolved inside it), then
runs the host's ldconfig chrooted into the root (``ldconfig -r ROOT``), so the container's files
are read and written as if the root were ``/``.
"""

from __future__ import annotations

from hook import oslite

from .. import errors

DEBIAN_DIRS = ("/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib", "/usr/lib")
OTHER_DIRS = ("/lib", "/usr/lib", "/lib64", "/usr/lib64", "/libx32", "/usr/libx32")
MAX_CONF = 1 << 20


def system_dirs(root: str) -> tuple[str, ...]:
    from ..rootfs import secure_join
    if oslite.uname().machine == "aarch64":
        deb = ("/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/lib", "/usr/lib")
        other = ("/lib", "/usr/lib", "/lib64", "/usr/lib64")
    else:
        deb, other = DEBIAN_DIRS, OTHER_DIRS
    return deb if oslite.isfile(secure_join(root, "/etc/debian_version")) else other


def configured_dirs(root: str, conf: str = "/etc/ld.so.conf", depth: int = 0) -> list[str]:
    """Folders named in ``conf`` and the files it includes (inside the root)."""
    from ..rootfs import secure_join
    if depth > 16:
        return []
    try:
        with open(secure_join(root, conf)) as f:
            text = f.read(MAX_CONF)
    except (OSError, UnicodeDecodeError):
        return []
    out: list[str] = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("include") and line[7:8] in (" ", "\t"):
            for pat in line[8:].split():
                if not pat.startswith("/"):
                    pat = oslite.join(oslite.dirname(conf), pat)
                for included in _glob_in_root(root, pat):
                    out += configured_dirs(root, included, depth + 1)
        else:
            out.append(line)
    return out


def _glob_in_root(root: str, pattern: str) -> list[str]:
    """The container paths matching the absolute ``pattern`` (Go's ``filepath.Glob``: wildcards in any
    component; empty components dropped first, so a trailing ``/`` is ignored), every path read
    resolved inside the root."""
    from ..pathmatch import glob
    from ..rootfs import secure_join
    return glob("/" + "/".join(p for p in pattern.split("/") if p), lambda path: secure_join(root, path))


def run(args: list[str], log) -> int:
    from ..hook import parse_flags, read_root
    flags, _ = parse_flags(args, ("ldconfig-path", "container-spec"), ("folder",))
    ldconfig = flags.get("ldconfig-path", "/sbin/ldconfig")
    if not ldconfig:
        raise errors.HookError("ldconfig-path must be specified")
    root = read_root(flags)
    if root in ("", "/"):
        raise errors.HookError(f"refusing to update the ldcache of root {root!r}")
    from ..rootfs import mkdirs_in, secure_join
    from .util import new_uuid, random_digits, write_new
    mkdirs_in(root, "/proc")
    try:
        oslite.stat(ldconfig)
    except OSError as exc:
        raise errors.HookError(f"Error updating ldcache: error mounting host ldconfig: error reading host ldconfig: "
                               f"stat {ldconfig}: {(exc.strerror or '').lower()}") from None
    mkdirs_in(root, "/run/nvidia-ctk-hook/" + new_uuid())
    conf = secure_join(root, "/etc/ld.so.conf")
    if not oslite.lexists(conf):
        mkdirs_in(root, "/etc")
        write_new(conf, b"include /etc/ld.so.conf.d/*.conf\n", 0o644)
    sysdirs = system_dirs(root)
    known = set(sysdirs) | set(configured_dirs(root))
    wanted: list[str] = []
    for f in flags["folder"]:
        if f not in known and f not in wanted:
            wanted.append(f)
    confd = mkdirs_in(root, "/etc/ld.so.conf.d")
    if wanted:
        write_new(oslite.join(confd, f"00-nvcr-{random_digits()}.conf"),
                  "".join(d + "\n" for d in wanted).encode(), 0o644)
    write_new(oslite.join(confd, f"zz-nvcr-{random_digits()}.conf"),
              "".join(d + "\n" for d in sysdirs).encode(), 0o644)
    if oslite.isfile(secure_join(root, "/etc/alpine-release")):
        musl = list(dict.fromkeys(wanted + list(sysdirs)))
        write_new(secure_join(root, "/etc/ld-musl-x86_64.path"), "".join(d + "\n" for d in musl).encode(),
                  0o644, append=True)
    pid = oslite.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            oslite.execv(ldconfig, [ldconfig, "-r", root, "-f", "/etc/ld.so.conf", "-C", "/etc/ld.so.cache"])
        finally:
            oslite._exit(127)
    _, status = oslite.waitpid(pid, 0)
    code = oslite.waitstatus_to_exitcode(status)
    if code != 0:
        raise errors.HookError(f"Error updating ldcache: exit status {code}")
    return 0
