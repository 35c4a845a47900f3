"""``nvidia-ctk config``: the toolkit's own ``config.toml`` (upstream's command).

    nvidia-ctk config [--config-file F] [--set KEY=VALUE ...] [--set-list-separator S]
                      [--in-place | --output F]
    nvidia-ctk config default [--output F]

``--set`` takes a dotted key of the toolkit config (``nvidia-container-cli.root``); its type
(bool, string, list of strings) comes from the schema the hook and the runtime read
(:func:`hook.config.key_kind`), so a key they would reject is refused here.  A bool key without
``=VALUE`` is set to true; a list is split on ``--set-list-separator`` (``,``).  Edits keep the
file's comments and layout (:mod:`ctk.tomledit`); ``--in-place`` writes atomically (mode, owner
and extended attributes kept) under the lock of the file.  ``nvidia-ctk install`` writes the
toolkit's config with :func:`render` (:mod:`ctk.toolkit`).
"""

from __future__ import annotations

import sys

from hook.gocompat import flag_needs_argument

from .cli_flags import Flag, parse_command, usage
from . import errors

DEFAULT_CONFIG_FILE = "/etc/nvidia-container-runtime/config.toml"

# The default config: ``nvidia-ctk config default``, what the toolkit starts from, and what
# ``./build.sh install`` installs (freeze/install.py).
DEFAULT = """#accept-nvidia-visible-devices-as-volume-mounts = false
#accept-nvidia-visible-devices-envvar-when-unprivileged = true
disable-require = false
supported-driver-capabilities = "compat32,compute,display,graphics,ngx,utility,video"
#swarm-resource = "DOCKER_RESOURCE_GPU"

[nvidia-container-cli]
#debug = "/var/log/nvidia-container-toolkit.log"
environment = []
#ldcache = "/etc/ld.so.cache"
ldconfig = "@/sbin/ldconfig"
load-kmods = true
#no-cgroups = false
#path = "/usr/bin/nvidia-container-cli"
#root = "/run/nvidia/driver"
#user = "root:video"

[nvidia-container-runtime]
#debug = "/var/log/nvidia-container-runtime.log"
log-level = "info"
mode = "auto"
runtimes = ["docker-runc", "runc", "crun"]

[nvidia-container-runtime.modes]

[nvidia-container-runtime.modes.cdi]
annotation-prefixes = ["cdi.k8s.io/"]
default-kind = "nvidia.com/gpu"
spec-dirs = ["/etc/cdi", "/var/run/cdi"]

[nvidia-container-runtime.modes.csv]
mount-spec-path = "/etc/nvidia-container-runtime/host-files-for-container.d"

[nvidia-container-runtime.modes.legacy]
cuda-compat-mode = "ldconfig"

[nvidia-container-runtime-hook]
path = "nvidia-container-runtime-hook"
skip-mode-detection = false

[nvidia-ctk]
path = "nvidia-ctk"
"""


def key_type(key: str) -> str:
    """``"bool"``, ``"str"`` or ``"strs"`` for a dotted key of the schema; raises UsageError."""
    from hook.config import key_kind
    kind = key_kind(key)
    if kind is None:
        raise errors.UsageError(f'invalid --set option "{key}": unknown config key')
    if kind == "table":
        raise errors.UsageError(f'invalid --set option "{key}": {key} is a table, not a value')
    return kind


def parse_set(text: str, separator: str = ",") -> tuple[list[str], object]:
    """``KEY=VALUE`` (or a bare bool ``KEY``) → (key path, typed value).  Raises UsageError."""
    from .cli_flags import parse_bool
    key, eq, raw = text.partition("=")
    kind = key_type(key)
    if kind == "bool":
        return key.split("."), (parse_bool(key, raw) if eq else True)
    if not eq:
        raise errors.UsageError(f'invalid --set option "{text}": expected KEY=VALUE')
    if kind == "strs":
        return key.split("."), [v for v in raw.split(separator) if v] if raw else []
    return key.split("."), raw


def render(before: bytes | None, sets: list[tuple[list[str], object]]) -> bytes:
    """The config file ``before`` (None: :data:`DEFAULT`) with ``sets`` applied, style kept."""
    from . import gotoml
    from .tomledit import TomlFile
    doc = TomlFile("config.toml", DEFAULT.encode() if before is None else before)
    tree = doc.copy_tree()
    for keys, value in sets:
        gotoml.set_path(tree, keys, value)
    return doc.render(tree) or b""


FLAGS = [
    Flag(("config-file", "config", "c"), "string", DEFAULT_CONFIG_FILE, "the config file to read (and, with --in-place, write)"),
    Flag(("set-list-separator",), "string", ",", "separator of list values given to --set"),
    Flag(("in-place", "i"), "bool", False, "write the result back to --config-file"),
    Flag(("output", "o"), "string", "", "write the result to this file (default: standard output)"),
]
_HELP = usage("NAME:\n   nvidia-ctk config - show or edit the toolkit config file\n\n"
              "USAGE:\n   nvidia-ctk config [--set KEY=VALUE ...] [--in-place] [--config-file F]\n"
              "   nvidia-ctk config default [--output F]\n\n   --set KEY[=VALUE]   set a key (repeatable)", FLAGS)


def cmd_config(args: list[str]) -> int:
    sets_raw, rest = _take_sets(args)
    if rest[:1] == ["default"]:
        p = parse_command([FLAGS[3]], rest[1:], _HELP)
        if p is not None:
            _emit(DEFAULT.encode(), p.values["output"])
        return 0
    p = parse_command(FLAGS, rest, _HELP)
    if p is None:
        return 0
    v = p.values
    sets = [parse_set(s, v["set-list-separator"]) for s in sets_raw]
    path = v["config-file"]
    if v["in-place"] and v["output"]:
        raise errors.UsageError("--in-place and --output are mutually exclusive")
    if v["in-place"]:
        write_in_place(path, sets)
        return 0
    from . import fileio
    _emit(render(fileio.read_optional(path), sets), v["output"])
    return 0


def write_in_place(path: str, sets: list[tuple[list[str], object]]) -> bool:
    """Apply ``sets`` to ``path`` atomically under its lock (a missing file starts from the
    default); returns whether the file changed.  Raises CtkError subclasses."""
    from . import configure, fileio, state
    sdir = state.state_dir("")
    with configure.locked(sdir, path):
        return fileio.write_atomic(path, render(fileio.read_optional(path), sets),
                                   backup_dir=f"{sdir}/backups").changed


def _take_sets(args: list[str]) -> tuple[list[str], list[str]]:
    """Split the repeatable ``--set`` flags from the other arguments."""
    sets: list[str] = []
    rest: list[str] = []
    it = iter(args)
    for a in it:
        if a in ("--set", "-set"):
            value = next(it, None)
            if value is None:
                raise errors.UsageError(flag_needs_argument("set"))
            sets.append(value)
        elif a.startswith(("--set=", "-set=")):
            sets.append(a.partition("=")[2])
        else:
            rest.append(a)
    return sets, rest


def _emit(data: bytes, output: str) -> None:
    if output:
        from . import fileio
        fileio.write_atomic(output, data)
    else:
        sys.stdout.write(data.decode())


__all__ = ["DEFAULT", "cmd_config", "parse_set", "render", "write_in_place"]
