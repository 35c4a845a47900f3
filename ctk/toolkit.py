"""What ``nvidia-ctk install`` lays down in ``<install-dir>/toolkit`` (docs/runtime-config.md,
"The toolkit").

* the one frozen binary, copied as ``nvidia-container-runtime-hook``, and a symbolic link to it
  under every other program name it answers to by ``argv[0]`` (no wrapper scripts: an installed
  program finds its config beside itself, :func:`hook.config.locate`);
* ``.config/nvidia-container-runtime/config.toml``, rendered by ``nvidia-ctk config``
  (:func:`ctk.toolkitconfig.render`) with the paths of this toolkit, the low-level runtimes, the
  driver root and the injection back end found there (:func:`find_backend`).
"""

from __future__ import annotations

import os
import shutil
import sys
from dataclasses import dataclass

from hook.gocompat import strip_root, under_root

BINARY = "nvidia-container-runtime-hook"
#: The line a binary built by freeze/build.sh carries before the program names it answers to
#: (written by freeze/mkfrozen.py, read by :func:`program_names` and ``./build.sh install``).
PROGRAMS_NOTE = "nvidia-container-hook-py frozen programs:"
CONFIG = os.path.join(".config", "nvidia-container-runtime", "config.toml")
CLI = "nvidia-container-cli"
NO_BACKEND = ("neither libnvidia-container.so.1 nor nvidia-container-cli was found under the driver root "
              "{root}: GPU containers will fail until the driver's container library is installed there")


@dataclass(frozen=True, slots=True)
class Backend:
    """The injection back end found under a driver root (host paths; None: not found)."""

    root: str
    library: str | None
    cli: str | None

    def __str__(self) -> str:
        if not (self.library or self.cli):
            return NO_BACKEND.format(root=self.root)
        found = [p for p in (self.library, self.cli) if p]
        return "injection back end: " + ", ".join(found)


def find_library(root: str) -> str | None:
    """``libnvidia-container.so.1`` under ``root``: the root's ld.so.cache (read here, at install
    time, never by the hook), then the directories the hook searches (:func:`hook.nvc.library_in`,
    :data:`hook.nvc.LIB_DIRS`).  The path as found (a link stays a link, so a library upgrade keeps
    it valid)."""
    from cdi import ldcache
    from hook.nvc import LIB_NAME, library_in
    for name, path in ldcache.entries(under_root(root, "/etc/ld.so.cache")):
        if name == LIB_NAME and os.path.isfile(under_root(root, path)):
            return under_root(root, path)
    return library_in(root)


def find_cli(root: str) -> str | None:
    """An executable ``nvidia-container-cli`` in the root's usual program directories."""
    from hook.gocompat import DEFAULT_PATH_DIRS
    from shim.lookup import is_executable_file
    for d in DEFAULT_PATH_DIRS:
        p = under_root(root, os.path.join(d, CLI))
        if is_executable_file(p):
            return p
    return None


def find_backend(driver_root: str, host_root: str = "") -> Backend:
    """The back end under ``driver_root`` (a host path), looked for where the host's ``/`` is
    visible to us (``host_root``, the installer container's host mount; ``""``: here); the paths
    returned are the host's."""
    root = driver_root or "/"
    seen = under_root(host_root, root)

    def host(path: str | None) -> str | None:
        return None if path is None else strip_root(host_root, path)
    return Backend(root, host(find_library(seen)), host(find_cli(seen)))


def default_source() -> str:
    """The binary to install: the running one when frozen, else ``<repo>/dist/<BINARY>``."""
    if "_hookexec" in sys.builtin_module_names:  # the frozen launcher's own module
        return os.path.realpath("/proc/self/exe")
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dist", BINARY)


def config_sets(toolkit_root: str, driver_root: str, low_level: list[str], backend: Backend) -> list:
    """The ``nvidia-ctk config --set`` edits of the toolkit config (key path, value)."""
    sets: list[tuple[list[str], object]] = [
        (["nvidia-container-cli", "root"], driver_root),
        (["nvidia-container-cli", "ldconfig"], "@" + under_root(driver_root, "/sbin/ldconfig")),
        (["nvidia-container-runtime", "runtimes"], list(low_level)),
        # The back end is libnvidia-container, which the legacy mode's prestart hook drives.
        (["nvidia-container-runtime", "mode"], "legacy"),
        (["nvidia-container-runtime", "no-driver-fallback"], True),
        (["nvidia-container-runtime", "modes", "cdi", "default-kind"], "nvidia.com/gpu"),
        (["nvidia-container-runtime-hook", "path"], os.path.join(toolkit_root, BINARY)),
        (["nvidia-ctk", "path"], os.path.join(toolkit_root, "nvidia-ctk")),
    ]
    if backend.cli:
        sets.append((["nvidia-container-cli", "path"], backend.cli))
    if backend.library:
        sets.append((["nvidia-container-runtime-hook", "library-path"], backend.library))
    return sets


def program_names(data: bytes) -> list[str]:
    """The program names the frozen binary ``data`` answers to (its :data:`PROGRAMS_NOTE` line);
    ``[]`` for any other file."""
    marker = PROGRAMS_NOTE.encode()
    at = data.find(marker)
    while at >= 0:
        # the note is a line of printable names; the same text also sits in frozen code (this module)
        end = data.find(b"\n", at)
        line = data[at + len(marker):end] if end >= 0 else b""
        if line[:1] == b" " and all(32 <= c < 127 for c in line):
            return line.decode("ascii").split()
        at = data.find(marker, at + 1)
    return []


def lay_down(stage: str, source: str, config: bytes) -> None:
    """The toolkit's files in the (empty) directory ``stage``: the binary, and a link to it for
    every other name it answers to.  Raises OSError, InstallError."""
    from . import errors
    if not os.path.isfile(source):
        raise errors.InstallError(f"the toolkit binary {source} does not exist (build it with ./build.sh, "
                                  "or pass --toolkit-source)")
    with open(source, "rb") as f:
        data = f.read()
    names = program_names(data)
    if BINARY not in names:
        raise errors.InstallError(f"the toolkit binary {source} was not built by freeze/build.sh "
                                  "(it names no programs)")
    target = os.path.join(stage, BINARY)
    shutil.copyfile(source, target)
    os.chmod(target, 0o755)
    for name in names:
        if name != BINARY:
            os.symlink(BINARY, os.path.join(stage, name))
    from .fileio import make_dirs
    make_dirs(os.path.join(stage, os.path.dirname(CONFIG)))   # 0755 at most, whatever the umask
    with open(os.path.join(stage, CONFIG), "wb") as f:
        f.write(config)
        os.fchmod(f.fileno(), 0o644)


__all__ = ["Backend", "PROGRAMS_NOTE", "config_sets", "default_source", "find_backend", "lay_down", "program_names"]
