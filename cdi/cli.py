"""``nvidia-ctk cdi generate|list|transform root`` (spec sections 2-4).

Flags follow the reference (urfave/cli, :mod:`ctk.cli_flags`): string-list flags may be repeated,
and their values (and environment variables) are comma-separated lists.  Errors: one
``level=error`` line, exit 1.
"""

from __future__ import annotations

import os
import sys

from ctk import cli_flags
from ctk.cli_flags import Flag, parse_flags, usage
from ctk.common import log  # the nvidia-ctk logger (logrus text on stderr)
from ctk import errors as ctk_errors

from . import errors

__all__ = ["cmd_cdi", "cmd_hook", "cmd_system", "parse", "GENERATE_FLAGS"]


def _list(names, env, help_text, default=()):
    return Flag(tuple(names), "list", tuple(default), help_text, (env,) if env else ())


GENERATE_FLAGS = [
    Flag(("output",), "string", "", "the path where the spec will be written (default: stdout)",
         ("NVIDIA_CTK_CDI_OUTPUT_FILE_PATH",)),
    Flag(("format",), "string", "yaml", "the output format: json or yaml", ("NVIDIA_CTK_CDI_GENERATE_OUTPUT_FORMAT",)),
    Flag(("mode", "discovery-mode"), "string", "auto", "the discovery mode", ("NVIDIA_CTK_CDI_GENERATE_MODE",)),
    Flag(("driver-root",), "string", "", "the driver root (default /)", ("NVIDIA_CTK_DRIVER_ROOT",)),
    Flag(("dev-root",), "string", "", "the root where /dev is located (default: the driver root)",
         ("NVIDIA_CTK_DEV_ROOT",)),
    _list(("device-name-strategy",), "NVIDIA_CTK_CDI_GENERATE_DEVICE_NAME_STRATEGIES",
          "device naming strategies: index, uuid, type-index", ("index", "uuid")),
    _list(("device-id", "device-ids", "device", "devices"), "NVIDIA_CTK_CDI_GENERATE_DEVICE_IDS",
          "the devices to generate specs for", ("all",)),
    Flag(("no-all-device",), "bool", False, "do not generate the 'all' device",
         ("NVIDIA_CTK_CDI_GENERATE_NO_ALL_DEVICE",)),
    Flag(("vendor", "cdi-vendor"), "string", "nvidia.com", "the CDI vendor", ("NVIDIA_CTK_CDI_GENERATE_VENDOR",)),
    Flag(("class", "cdi-class"), "string", "gpu", "the CDI class", ("NVIDIA_CTK_CDI_GENERATE_CLASS",)),
    Flag(("nvidia-cdi-hook-path", "nvidia-ctk-path"), "string", "", "the hook program written into specs",
         ("NVIDIA_CTK_CDI_HOOK_PATH",)),
    Flag(("ldconfig-path",), "string", "", "the ldconfig the update-ldcache hook uses",
         ("NVIDIA_CTK_CDI_GENERATE_LDCONFIG_PATH",)),
    _list(("disable-hook", "disable-hooks"), "NVIDIA_CTK_CDI_GENERATE_DISABLED_HOOKS", "hooks not to emit ('all')"),
    _list(("enable-hook", "enable-hooks"), "NVIDIA_CTK_CDI_GENERATE_ENABLED_HOOKS", "hooks to emit"),
    _list(("feature-flag", "feature-flags"), "NVIDIA_CTK_CDI_GENERATE_FEATURE_FLAGS", "feature flags"),
    _list(("config-search-path",), "NVIDIA_CTK_CDI_GENERATE_CONFIG_SEARCH_PATHS", "graphics config folders"),
    _list(("library-search-path",), "NVIDIA_CTK_CDI_GENERATE_LIBRARY_SEARCH_PATHS", "extra library folders"),
    _list(("csv.file",), "NVIDIA_CTK_CDI_GENERATE_CSV_FILES", "CSV mode inputs",
          tuple(f"/etc/nvidia-container-runtime/host-files-for-container.d/{n}.csv"
                for n in ("devices", "drivers", "l4t"))),
    _list(("csv.ignore-pattern",), "NVIDIA_CTK_CDI_GENERATE_CSV_IGNORE_PATTERNS", "CSV entries to drop"),
    Flag(("csv.compat-container-root",), "string", "/usr/local/cuda/compat_orin", "CSV mode CUDA compat folder",
         ("NVIDIA_CTK_CDI_GENERATE_CSV_CONTAINER_COMPAT_ROOT",)),
]


def parse(flags: list[Flag], args: list[str]):
    """:func:`ctk.cli_flags.parse_flags` with its errors as this package's :class:`UsageError`."""
    try:
        return parse_flags(flags, args)
    except ctk_errors.CtkError as exc:
        raise errors.UsageError(str(exc)) from None


def _hook_path(value: str) -> str:
    """2.5: absolute paths verbatim, else the base name in PATH, else /usr/bin/<name>."""
    name = value or "nvidia-cdi-hook"
    if os.path.isabs(name):
        return name
    import shutil
    found = shutil.which(name)
    if found:
        return os.path.abspath(found)
    log.warning("Failed to locate %s", name)
    return "/usr/bin/" + os.path.basename(name)


def cmd_generate(args: list[str], config: str = "") -> int:
    from . import generate as G, output, spec as S
    p = parse(GENERATE_FLAGS, args)
    if p.rest:
        raise errors.UsageError(f"unexpected arguments: {' '.join(p.rest)}")
    v = p.values
    fmt = v["format"]
    if fmt.lower() not in ("json", "yaml"):
        raise errors.UsageError(f"invalid output format: {fmt}")
    if v["mode"].lower() not in G.MODES:
        raise errors.UsageError(f"invalid discovery mode: {v['mode']}")
    for s in v["device-name-strategy"]:
        if s not in G.STRATEGIES:
            raise errors.UsageError(f"invalid device name strategy: {s}")
    hook_path = _hook_path(v["nvidia-cdi-hook-path"])
    fmt = output.resolve_format(v["output"], fmt, "format" in p.given, log)
    try:
        S.check_vendor(v["vendor"])
    except S.SpecError as exc:
        raise errors.UsageError(f"invalid CDI vendor name: {exc}") from None
    try:
        S.check_class(v["class"])
    except S.SpecError as exc:
        raise errors.UsageError(f"invalid CDI class name: {exc}") from None
    if "all" in v["enable-hook"]:
        raise errors.UsageError("enabling all hooks is not supported")
    no_all = v["no-all-device"]
    if "none" in v["device-id"] and not no_all:
        log.warning("Disabling generation of 'all' device")
        no_all = True
    driver_root = v["driver-root"] or _config_root(config) or "/"
    opts = G.Options(mode=v["mode"], driver_root=driver_root, dev_root=v["dev-root"] or driver_root,
                     strategies=tuple(dict.fromkeys(v["device-name-strategy"])), device_ids=v["device-id"],
                     no_all_device=no_all, vendor=v["vendor"], cls=v["class"], hook_path=hook_path,
                     ldconfig_path=v["ldconfig-path"], disabled_hooks=v["disable-hook"],
                     enabled_hooks=v["enable-hook"], feature_flags=v["feature-flag"],
                     config_search_paths=v["config-search-path"], library_search_paths=v["library-search-path"],
                     csv_files=v["csv.file"], csv_ignore_patterns=v["csv.ignore-pattern"],
                     csv_compat_root=v["csv.compat-container-root"])
    specs = G.generate(opts, log)
    output.save(specs, v["output"], fmt)
    log.info("Generated CDI spec with version %s", specs[0]["cdiVersion"])
    return 0


def _config_root(config: str) -> str:
    """``nvidia-container-cli.root`` from the toolkit config, or '' (an unreadable config only
    loses this default)."""
    from hook import config as hc
    from hook import errors as hook_errors

    try:
        return hc.load(hc.locate(config, os.environ)).cli_root or ""
    except (hook_errors.HookError, OSError, ValueError):
        return ""


LIST_FLAGS = [_list(("spec-dir",), "NVIDIA_CTK_CDI_SPEC_DIRS", "CDI spec folders", ("/etc/cdi", "/var/run/cdi"))]


def cmd_list(args: list[str]) -> int:
    from . import registry
    p = parse(LIST_FLAGS, args)
    reg = registry.Registry(p.values["spec-dir"])
    if reg.errors:
        log.warning("The following registry errors were reported:")
        for path, errs in reg.errors:
            log.warning("%s: [%s]", path, "; ".join(errs))
    names = reg.device_names()
    log.info("Found %d CDI devices", len(names))
    for n in names:
        sys.stdout.write(n + "\n")
    return 0


TRANSFORM_FLAGS = [
    Flag(("from",), "string", "", "the path prefix to replace"),
    Flag(("to",), "string", "", "the replacement prefix"),
    Flag(("relative-to",), "string", "host", "host or container"),
    Flag(("input",), "string", "-", "the spec to read (- = stdin)"),
    Flag(("output",), "string", "", "where to write (default: stdout)"),
    Flag(("format",), "string", "yaml", "json or yaml"),
]


def cmd_transform(args: list[str]) -> int:
    from . import output, registry, transform
    if not args or args[0] != "root":
        raise errors.UsageError(f"No help topic for '{args[0] if args else ''}'")
    p = parse(TRANSFORM_FLAGS, args[1:])
    v = p.values
    if v["relative-to"] not in ("host", "container"):
        raise errors.UsageError(f"invalid --relative-to value: {v['relative-to']}")
    fmt = output.resolve_format(v["output"], v["format"], "format" in p.given, log)
    if v["input"] in ("", "-"):
        data = sys.stdin.buffer.read(registry.MAX_SPEC)
        name = "stdin"
    else:
        try:
            with open(v["input"], "rb") as f:
                data = f.read(registry.MAX_SPEC)
        except OSError as exc:
            raise errors.CdiError(f"failed to load CDI specification: {exc.strerror}: {v['input']}") from None
        name = v["input"]
    spec = registry.parse_spec(data, name)
    transform.root(spec, v["from"], v["to"], v["relative-to"])
    output.save([spec], v["output"], fmt)
    return 0


USAGE = """NAME:
   nvidia-ctk cdi - Provide tools for interacting with Container Device Interface specifications

COMMANDS:
   generate   Generate CDI specifications for use with CDI-enabled runtimes
   list       List the available CDI devices
   transform  Apply a transform to a CDI specification
"""


def cmd_cdi(args: list[str], config: str = "") -> int:
    """``nvidia-ctk [global flags] cdi ARGS``: the exit status."""
    if not args or args[0] in ("-h", "--help", "help"):
        sys.stdout.write(USAGE)
        return 0
    sub, rest = args[0], args[1:]
    try:
        if sub == "generate":
            return cmd_generate(rest, config)
        if sub == "list":
            return cmd_list(rest)
        if sub == "transform":
            return cmd_transform(rest)
        raise errors.UsageError(f"No help topic for '{sub}'")
    except cli_flags.HelpRequested:
        flags = {"generate": GENERATE_FLAGS, "list": LIST_FLAGS}.get(sub, TRANSFORM_FLAGS)
        sys.stdout.write(usage(f"NAME:\n   nvidia-ctk cdi {sub}", flags))
        return 0
    except errors.CdiError as exc:
        log.error("%s", exc)
        return 1


def cmd_hook(args: list[str], config: str = "") -> int:
    """``nvidia-ctk hook ARGS``: the CDI hooks (:mod:`cdi.hook`)."""
    from .hook import run
    return run(args)


def cmd_system(args: list[str], config: str = "") -> int:
    """``nvidia-ctk system ARGS`` (:mod:`cdi.system`)."""
    from .system import run
    try:
        return run(args)
    except errors.CdiError as exc:
        log.error("%s", exc)
        return 1
