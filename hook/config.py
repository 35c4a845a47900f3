"""The hook's configuration file, ``config.toml`` (hook.md §9).

:func:`locate` picks the file, :func:`load` parses it into a :class:`HookConfig`
with go-toml's rules (lower-case or ALL-UPPER key names, strict types on every
key of the schema, unknown keys ignored) and validates it.  Errors are
:class:`~hook.errors.ConfigError` with the reference's messages.
"""

from __future__ import annotations

import os

from .errors import ConfigError
from .log import go_quote
from .values import REQUIRED, Factory, Value

DEFAULT_CONFIG_PATH = "/etc/nvidia-container-runtime/config.toml"
ALL_CAPS_TEXT = "compat32,compute,display,graphics,ngx,utility,video"
KNOWN_CAPS = frozenset(ALL_CAPS_TEXT.split(","))
INJECTORS = ("auto", "library", "cli")

_PREFIX = "error getting hook config: failed to load config: "

# Schema: key -> "bool" | "str" | "strs" | nested schema.  Every key is
# type-checked even when the hook does not use it (go-toml unmarshals the whole
# upstream Config struct).
_SCHEMA: dict = {
    "disable-require": "bool",
    "swarm-resource": "str",
    "accept-nvidia-visible-devices-envvar-when-unprivileged": "bool",
    "accept-nvidia-visible-devices-as-volume-mounts": "bool",
    "supported-driver-capabilities": "str",
    "nvidia-container-cli": {
        "root": "str", "path": "str", "environment": "strs", "debug": "str",
        "ldcache": "str", "load-kmods": "bool", "no-pivot": "bool",
        "no-cgroups": "bool", "user": "str", "ldconfig": "str",
    },
    "nvidia-container-runtime": {
        "debug": "str", "log-level": "str", "runtimes": "strs", "mode": "str",
        # Ours (issue 10): an installed toolkit runs the low-level runtime directly while no
        # NVIDIA kernel module is loaded (upstream's wrapper script did that).
        "no-driver-fallback": "bool", "driver-modules-file": "str",
        "modes": {
            "csv": {"mount-spec-path": "str", "compat-container-root": "str"},
            "cdi": {"spec-dirs": "strs", "default-kind": "str", "annotation-prefixes": "strs"},
            "jit-cdi": {"nvcdi-feature-flags": "strs", "nvcdi-disable-hooks": "strs"},
            "legacy": {"cuda-compat-mode": "str"},
        },
    },
    "nvidia-container-runtime-hook": {
        "path": "str", "skip-mode-detection": "bool",
        # Ours (issue 3): which injector runs, and where the library is.
        "injector": "str", "library-path": "str",
    },
    "nvidia-ctk": {"path": "str"},
    "features": {
        "allow-cuda-compat-libs-from-container": "bool",
        "allow-ldconfig-from-container": "bool",
        "disable-imex-channel-creation": "bool",
        "ignore-imex-channel-requests": "bool",
        "allow-unknown-oci-spec-fields": "bool",
        "disable-cuda-compat-lib-hook": "bool",
        "no-additional-gids-for-device-nodes": "bool",
    },
}


class HookConfig(Value):
    """The settings the hook acts on, with the reference's defaults (hook.md §9.3).

    ``cli_user`` is None when not configured: the plan then asks the host for
    :func:`default_user` (it reads /etc/os-release); ``cli_ldconfig`` is as configured (normalised at plan time).
    ``sources`` maps each key that came from the file to True (for ``explain``).
    """

    disable_require: bool
    swarm_resource: str
    accept_envvar_unprivileged: bool
    accept_volume_mounts: bool
    supported_driver_capabilities: str
    cli_root: str
    cli_path: str
    cli_environment: tuple[str, ...]
    cli_debug: str
    cli_ldcache: str
    cli_load_kmods: bool
    cli_no_pivot: bool
    cli_no_cgroups: bool
    cli_user: str | None
    cli_ldconfig: str
    mode: str
    cuda_compat_mode: str
    skip_mode_detection: bool
    injector: str
    library_path: str
    allow_cuda_compat_libs_from_container: bool
    allow_ldconfig_from_container: bool
    disable_imex_channel_creation: bool
    ignore_imex_channel_requests: bool
    path: str | None
    sources: dict[str, bool]
    # [nvidia-container-runtime] and the other keys only the runtime shim acts on (shim/, runtime.md §4.2)
    runtime_debug: str
    runtime_log_level: str
    runtimes: tuple[str, ...]
    no_driver_fallback: bool
    driver_modules_file: str
    cdi_spec_dirs: tuple[str, ...]
    cdi_default_kind: str
    cdi_annotation_prefixes: tuple[str, ...]
    csv_mount_spec_path: str
    csv_compat_container_root: str
    jit_feature_flags: tuple[str, ...]
    jit_disable_hooks: tuple[str, ...]
    runtime_hook_path: str
    ctk_path: str
    allow_unknown_oci_spec_fields: bool
    disable_cuda_compat_lib_hook: bool
    no_additional_gids_for_device_nodes: bool
    _defaults = {
        "disable_require": False,
        "swarm_resource": "",
        "accept_envvar_unprivileged": True,
        "accept_volume_mounts": False,
        "supported_driver_capabilities": ALL_CAPS_TEXT,
        "cli_root": "",
        "cli_path": "",
        "cli_environment": (),
        "cli_debug": "",
        "cli_ldcache": "",
        "cli_load_kmods": True,
        "cli_no_pivot": False,
        "cli_no_cgroups": False,
        "cli_user": None,
        "cli_ldconfig": "@/sbin/ldconfig",
        "mode": "auto",
        "cuda_compat_mode": "ldconfig",
        "skip_mode_detection": False,
        "injector": "auto",
        "library_path": "",
        "allow_cuda_compat_libs_from_container": False,
        "allow_ldconfig_from_container": False,
        "disable_imex_channel_creation": False,
        "ignore_imex_channel_requests": False,
        "path": None,
        "sources": Factory(dict),
        "runtime_debug": "/dev/null",
        "runtime_log_level": "info",
        "runtimes": ("runc", "crun"),
        "no_driver_fallback": False,
        "driver_modules_file": "/proc/modules",
        "cdi_spec_dirs": ("/etc/cdi", "/var/run/cdi"),
        "cdi_default_kind": "nvidia.com/gpu",
        "cdi_annotation_prefixes": ("cdi.k8s.io/",),
        "csv_mount_spec_path": "/etc/nvidia-container-runtime/host-files-for-container.d",
        "csv_compat_container_root": "",
        "jit_feature_flags": (),
        "jit_disable_hooks": (),
        "runtime_hook_path": "nvidia-container-runtime-hook",
        "ctk_path": "nvidia-ctk",
        "allow_unknown_oci_spec_fields": False,
        "disable_cuda_compat_lib_hook": False,
        "no_additional_gids_for_device_nodes": False,
    }
    __slots__ = tuple(_defaults)

    @property
    def supported_caps(self) -> frozenset[str]:
        from .gocompat import split_list
        return frozenset(split_list(self.supported_driver_capabilities))


# (path in the TOML tree) -> HookConfig attribute
_ATTRS = {
    ("disable-require",): "disable_require",
    ("swarm-resource",): "swarm_resource",
    ("accept-nvidia-visible-devices-envvar-when-unprivileged",): "accept_envvar_unprivileged",
    ("accept-nvidia-visible-devices-as-volume-mounts",): "accept_volume_mounts",
    ("supported-driver-capabilities",): "supported_driver_capabilities",
    ("nvidia-container-cli", "root"): "cli_root",
    ("nvidia-container-cli", "path"): "cli_path",
    ("nvidia-container-cli", "environment"): "cli_environment",
    ("nvidia-container-cli", "debug"): "cli_debug",
    ("nvidia-container-cli", "ldcache"): "cli_ldcache",
    ("nvidia-container-cli", "load-kmods"): "cli_load_kmods",
    ("nvidia-container-cli", "no-pivot"): "cli_no_pivot",
    ("nvidia-container-cli", "no-cgroups"): "cli_no_cgroups",
    ("nvidia-container-cli", "user"): "cli_user",
    ("nvidia-container-cli", "ldconfig"): "cli_ldconfig",
    ("nvidia-container-runtime", "mode"): "mode",
    ("nvidia-container-runtime", "modes", "legacy", "cuda-compat-mode"): "cuda_compat_mode",
    ("nvidia-container-runtime-hook", "skip-mode-detection"): "skip_mode_detection",
    ("nvidia-container-runtime-hook", "injector"): "injector",
    ("nvidia-container-runtime-hook", "library-path"): "library_path",
    ("features", "allow-cuda-compat-libs-from-container"): "allow_cuda_compat_libs_from_container",
    ("features", "allow-ldconfig-from-container"): "allow_ldconfig_from_container",
    ("features", "disable-imex-channel-creation"): "disable_imex_channel_creation",
    ("features", "ignore-imex-channel-requests"): "ignore_imex_channel_requests",
    ("nvidia-container-runtime", "debug"): "runtime_debug",
    ("nvidia-container-runtime", "log-level"): "runtime_log_level",
    ("nvidia-container-runtime", "runtimes"): "runtimes",
    ("nvidia-container-runtime", "no-driver-fallback"): "no_driver_fallback",
    ("nvidia-container-runtime", "driver-modules-file"): "driver_modules_file",
    ("nvidia-container-runtime", "modes", "cdi", "spec-dirs"): "cdi_spec_dirs",
    ("nvidia-container-runtime", "modes", "cdi", "default-kind"): "cdi_default_kind",
    ("nvidia-container-runtime", "modes", "cdi", "annotation-prefixes"): "cdi_annotation_prefixes",
    ("nvidia-container-runtime", "modes", "csv", "mount-spec-path"): "csv_mount_spec_path",
    ("nvidia-container-runtime", "modes", "csv", "compat-container-root"): "csv_compat_container_root",
    ("nvidia-container-runtime", "modes", "jit-cdi", "nvcdi-feature-flags"): "jit_feature_flags",
    ("nvidia-container-runtime", "modes", "jit-cdi", "nvcdi-disable-hooks"): "jit_disable_hooks",
    ("nvidia-container-runtime-hook", "path"): "runtime_hook_path",
    ("nvidia-ctk", "path"): "ctk_path",
    ("features", "allow-unknown-oci-spec-fields"): "allow_unknown_oci_spec_fields",
    ("features", "disable-cuda-compat-lib-hook"): "disable_cuda_compat_lib_hook",
    ("features", "no-additional-gids-for-device-nodes"): "no_additional_gids_for_device_nodes",
}


class Location(Value):
    """Which config file to read, and whether its absence is an error."""

    path: str
    required: bool
    source: str  # "-config", "NVIDIA_CTK_CONFIG_FILE_PATH", "toolkit", "XDG_CONFIG_HOME", "default"
    _defaults = {
        "path": REQUIRED,
        "required": REQUIRED,
        "source": REQUIRED,
    }
    __slots__ = tuple(_defaults)


TOOLKIT_CONFIG = ".config/nvidia-container-runtime/config.toml"


def program_path(argv0: str) -> str:
    """The path of the running program for :func:`locate`: the frozen binary's own file (runc
    starts hooks with a bare ``argv[0]``), else ``argv[0]``."""
    import sys
    if "_hookexec" in sys.builtin_module_names:  # the frozen launcher
        try:
            return os.readlink("/proc/self/exe")
        except OSError:
            pass
    return argv0


def locate(flag_value: str, environ, program: str = "") -> Location:
    """hook.md §9.1: ``-config``, then ``NVIDIA_CTK_CONFIG_FILE_PATH``, then XDG or /etc.

    Ours (docs/runtime-config.md, "The toolkit"): between the environment variable and XDG, the
    config of an installed toolkit, ``<dir of program>/.config/nvidia-container-runtime/config.toml``
    when ``program`` (:func:`program_path`) is a path and that file exists: what upstream's wrapper scripts
    pass in ``NVIDIA_CTK_CONFIG_FILE_PATH``, without a wrapper.
    """
    if flag_value:
        return Location(flag_value, True, "-config")
    env_path = environ.get("NVIDIA_CTK_CONFIG_FILE_PATH", "")
    if env_path:
        return Location(env_path, True, "NVIDIA_CTK_CONFIG_FILE_PATH")
    if "/" in program:
        beside = os.path.join(os.path.dirname(program), TOOLKIT_CONFIG)
        if os.path.isfile(beside):
            return Location(beside, True, "toolkit")
    xdg = environ.get("XDG_CONFIG_HOME", "")
    if xdg:
        return Location(xdg + "/nvidia-container-runtime/config.toml", False, "XDG_CONFIG_HOME")
    return Location(DEFAULT_CONFIG_PATH, False, "default")


def load(location: Location, hook_checks: bool = True) -> HookConfig:
    """Read, parse and validate the file at ``location``.

    A missing optional file gives the defaults.  ``hook_checks=False`` (the runtime shim) leaves
    out the validation of keys only the hook uses.  Raises :class:`ConfigError`.
    """
    from . import gocompat

    try:
        os.stat(location.path)
    except FileNotFoundError:
        if location.required:
            raise ConfigError(_PREFIX + "couldn't open required configuration file: file does not exist") from None
        return HookConfig()
    except (OSError, ValueError):
        pass  # let open() report it
    try:
        with open(location.path, "rb") as f:
            data = f.read()
    except (OSError, ValueError) as exc:
        op = "read" if isinstance(exc, IsADirectoryError) else "open"
        raise ConfigError(
            _PREFIX + "couldn't open required configuration file: failed to load specified config file: "
            f"{op} {location.path}: {gocompat.errno_text(getattr(exc, 'errno', None))}") from None
    return parse(data, path=location.path, hook_checks=hook_checks)


def parse(data: bytes, path: str | None = None, hook_checks: bool = True) -> HookConfig:
    """Parse config bytes (see :func:`load`); raises :class:`ConfigError`."""
    from . import minitoml

    text = data.decode("utf-8", "replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        tree = minitoml.loads(text)
    except minitoml.Unsupported:
        from . import tomlcompat
        try:
            tree = tomlcompat.loads(text)
        except tomlcompat.TOMLError as exc:
            raise ConfigError(
                _PREFIX + "couldn't open required configuration file: failed to load specified config file: "
                f"{exc}") from None
    cfg = HookConfig(path=path)
    try:
        _apply(tree, _SCHEMA, (), cfg)
    except _TypeMismatch as exc:
        raise ConfigError(_PREFIX + f"failed to unmarshal config: {exc}") from None
    if not cfg.cli_ldconfig.startswith("@") and not cfg.allow_ldconfig_from_container:
        raise ConfigError(
            _PREFIX + f"nvidia-container-cli.ldconfig value {go_quote(cfg.cli_ldconfig)} is not host-relative "
            "(does not start with a '@')\ninvalid config value")
    if not hook_checks:
        return cfg
    if cfg.injector not in INJECTORS:
        raise ConfigError(_PREFIX + f"invalid value for nvidia-container-runtime-hook.injector: {cfg.injector!r} "
                          "(expected 'auto', 'library' or 'cli')")
    validate_supported(cfg)
    return cfg


def validate_supported(cfg: HookConfig) -> None:
    """hook.md §9.2 step 6: ``all`` expands; every token must be a known capability.

    Raises :class:`ConfigError`.  (The reference exits silently here; we name
    the option, see docs/compatibility.md.)
    """
    from .gocompat import split_list

    value = cfg.supported_driver_capabilities
    if value == "all":
        cfg.supported_driver_capabilities = value = ALL_CAPS_TEXT
    unknown = [c for c in split_list(value) if c not in KNOWN_CAPS]
    if unknown:
        raise ConfigError(
            f"Invalid value for config option 'supported-driver-capabilities'; {value} "
            f"(supported: {ALL_CAPS_TEXT})")


class _TypeMismatch(Exception):
    """A value of the wrong type: ``str()`` names the key, then go-toml's wording (``Can't convert ...``)."""

    def __init__(self, path: tuple[str, ...], detail: str) -> None:
        super().__init__(f"'{'.'.join(path)}': {detail}")


def _lookup(table: dict, key: str):
    """go-toml key matching: the lower-case name wins over the ALL-UPPER one."""
    if key in table:
        return True, table[key]
    upper = key.upper()
    if upper in table:
        return True, table[upper]
    return False, None


def _apply(table: dict, schema: dict, prefix: tuple[str, ...], cfg: HookConfig) -> None:
    for key, kind in schema.items():
        present, value = _lookup(table, key)
        if not present:
            continue
        path = prefix + (key,)
        if isinstance(kind, dict):
            if not isinstance(value, dict):
                raise _TypeMismatch(path, f"Can't convert {_describe(value)} to {key}(struct)")
            _apply(value, kind, path, cfg)
            continue
        if kind == "bool":
            if not isinstance(value, bool):
                raise _TypeMismatch(path, f"Can't convert {_describe(value)} to bool")
        elif kind == "str":
            if not isinstance(value, str):
                raise _TypeMismatch(path, f"Can't convert {_describe(value)} to string")
        elif kind == "strs":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise _TypeMismatch(path, f"Can't convert {_describe(value)} to []string(slice)")
            value = tuple(value)
        attr = _ATTRS.get(path)
        if attr is not None:
            setattr(cfg, attr, value)
            cfg.sources[".".join(path)] = True


def _describe(value) -> str:
    names = {bool: "bool", str: "string", int: "int64", float: "float64", list: "[]interface {}",
             dict: "map[string]interface {}"}
    text = ("true" if value else "false") if isinstance(value, bool) else value  # Go's %v
    return f"{text}({names.get(type(value), type(value).__name__)})"


def default_user(os_release: str = "/etc/os-release") -> str:
    """``root:video`` on SUSE-like hosts (``ID_LIKE`` lists suse/opensuse), else ``""``."""
    try:
        with open(os_release, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in lines:
        if line.startswith("ID_LIKE="):
            value = line[len("ID_LIKE="):].strip('"')
            if {"suse", "opensuse"} & set(value.split(" ")):
                return "root:video"
    return ""
