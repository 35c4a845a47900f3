"""The hook's configuration file, ``config.toml`` (hook.md §9).

:func:`locate` picks the file, :func:`load` parses it into a :class:`HookConfig`
with go-toml's rules (lower-case or ALL-UPPER key names, strict types on every
key of the schema, unknown keys ignored) and validates it.  Errors are
:class:`~hook.errors.ConfigError` with the reference's messages.
"""

from __future__ import annotations

from . import errors, gocompat, oslite
from .values import Value, lazy_exception

DEFAULT_CONFIG_PATH = "/etc/nvidia-container-runtime/config.toml"
ALL_CAPS_TEXT = "compat32,compute,display,graphics,ngx,utility,video"
KNOWN_CAPS = frozenset(ALL_CAPS_TEXT.split(","))
INJECTORS = ("auto", "library", "cli")

_PREFIX = "error getting hook config: failed to load config: "
_OPENING = "couldn't open required configuration file: "


def _error(detail: str, opening: bool = False) -> errors.ConfigError:
    """The hook's wording of a config error (the reference's prefixes), ``detail`` kept apart."""
    return errors.ConfigError(_PREFIX + (_OPENING if opening else "") + detail, detail)

# The schema, one row per key: (TOML key, HookConfig attribute, type, default).  The reference's
# defaults are hook.md §9.3's.  Every key is type-checked even when the hook does not use it (go-toml
# unmarshals the whole upstream Config struct); the keys under [nvidia-container-runtime] and the
# other ones only the runtime shim acts on are here too (shim/, runtime.md §4.2).  Types: "bool",
# "str", "strs" (a list of strings, kept as a tuple).  Rows are in the order go-toml checks them.
_SCHEMA = (
    ("disable-require", "disable_require", "bool", False),
    ("swarm-resource", "swarm_resource", "str", ""),
    ("accept-nvidia-visible-devices-envvar-when-unprivileged", "accept_envvar_unprivileged", "bool", True),
    ("accept-nvidia-visible-devices-as-volume-mounts", "accept_volume_mounts", "bool", False),
    ("supported-driver-capabilities", "supported_driver_capabilities", "str", ALL_CAPS_TEXT),
    ("nvidia-container-cli.root", "cli_root", "str", ""),
    ("nvidia-container-cli.path", "cli_path", "str", ""),
    ("nvidia-container-cli.environment", "cli_environment", "strs", ()),
    ("nvidia-container-cli.debug", "cli_debug", "str", ""),
    ("nvidia-container-cli.ldcache", "cli_ldcache", "str", ""),
    ("nvidia-container-cli.load-kmods", "cli_load_kmods", "bool", True),
    ("nvidia-container-cli.no-pivot", "cli_no_pivot", "bool", False),
    ("nvidia-container-cli.no-cgroups", "cli_no_cgroups", "bool", False),
    # None: not configured; the plan then asks the host (default_user() reads /etc/os-release).
    ("nvidia-container-cli.user", "cli_user", "str", None),
    # As configured; normalised at plan time (hook.md §7.4).
    ("nvidia-container-cli.ldconfig", "cli_ldconfig", "str", "@/sbin/ldconfig"),
    ("nvidia-container-runtime.debug", "runtime_debug", "str", "/dev/null"),
    ("nvidia-container-runtime.log-level", "runtime_log_level", "str", "info"),
    ("nvidia-container-runtime.runtimes", "runtimes", "strs", ("runc", "crun")),
    ("nvidia-container-runtime.mode", "mode", "str", "auto"),
    # Ours (issue 10): an installed toolkit runs the low-level runtime directly while no NVIDIA
    # kernel module is loaded (upstream's wrapper script did that; docs/runtime-config.md).
    ("nvidia-container-runtime.no-driver-fallback", "no_driver_fallback", "bool", False),
    ("nvidia-container-runtime.driver-modules-file", "driver_modules_file", "str", "/proc/modules"),
    ("nvidia-container-runtime.modes.csv.mount-spec-path", "csv_mount_spec_path", "str",
     "/etc/nvidia-container-runtime/host-files-for-container.d"),
    ("nvidia-container-runtime.modes.csv.compat-container-root", "csv_compat_container_root", "str", ""),
    ("nvidia-container-runtime.modes.cdi.spec-dirs", "cdi_spec_dirs", "strs", ("/etc/cdi", "/var/run/cdi")),
    ("nvidia-container-runtime.modes.cdi.default-kind", "cdi_default_kind", "str", "nvidia.com/gpu"),
    ("nvidia-container-runtime.modes.cdi.annotation-prefixes", "cdi_annotation_prefixes", "strs", ("cdi.k8s.io/",)),
    ("nvidia-container-runtime.modes.jit-cdi.nvcdi-feature-flags", "jit_feature_flags", "strs", ()),
    ("nvidia-container-runtime.modes.jit-cdi.nvcdi-disable-hooks", "jit_disable_hooks", "strs", ()),
    ("nvidia-container-runtime.modes.legacy.cuda-compat-mode", "cuda_compat_mode", "str", "ldconfig"),
    ("nvidia-container-runtime-hook.path", "runtime_hook_path", "str", "nvidia-container-runtime-hook"),
    ("nvidia-container-runtime-hook.skip-mode-detection", "skip_mode_detection", "bool", False),
    # Ours (issue 3): which injector runs, and where the library is (docs/injector.md).
    ("nvidia-container-runtime-hook.injector", "injector", "str", "auto"),
    ("nvidia-container-runtime-hook.library-path", "library_path", "str", ""),
    ("nvidia-ctk.path", "ctk_path", "str", "nvidia-ctk"),
    ("features.allow-cuda-compat-libs-from-container", "allow_cuda_compat_libs_from_container", "bool", False),
    ("features.allow-ldconfig-from-container", "allow_ldconfig_from_container", "bool", False),
    ("features.disable-imex-channel-creation", "disable_imex_channel_creation", "bool", False),
    ("features.ignore-imex-channel-requests", "ignore_imex_channel_requests", "bool", False),
    ("features.allow-unknown-oci-spec-fields", "allow_unknown_oci_spec_fields", "bool", False),
    ("features.disable-cuda-compat-lib-hook", "disable_cuda_compat_lib_hook", "bool", False),
    ("features.no-additional-gids-for-device-nodes", "no_additional_gids_for_device_nodes", "bool", False),
)


class HookConfig(Value, frozen=True, fields=((attr, default) for _, attr, _, default in _SCHEMA)):
    """The settings of ``config.toml``: one attribute per row of the schema above, with its default.

    ``path`` is the file read (None: built-in defaults); ``sources`` lists the keys that came from the
    file, dotted, in schema order (for ``explain``).
    """

    path: str | None = None
    sources: tuple[str, ...] = ()

    def origin(self, key: str) -> str:
        """Where the value of the dotted ``key`` comes from, for ``explain``: the file or the default."""
        return f"{key} in {self.path}" if key in self.sources else f"{key} default"

    @property
    def supported_caps(self) -> frozenset[str]:
        return frozenset(gocompat.split_list(self.supported_driver_capabilities))


def key_kind(key: str) -> str | None:
    """What the dotted ``key`` is in the schema: ``"bool"``, ``"str"``, ``"strs"``, ``"table"`` (a
    prefix of keys), or None (unknown).  For ``nvidia-ctk config --set``."""
    kind = None
    for name, _, type_, _ in _SCHEMA:
        if name == key:
            return type_
        if name.startswith(key + "."):
            kind = "table"
    return kind


class Location(Value, frozen=True):
    """Which config file to read, and whether its absence is an error."""

    path: str
    required: bool
    source: str  # "-config", "NVIDIA_CTK_CONFIG_FILE_PATH", "toolkit", "XDG_CONFIG_HOME", "default"


TOOLKIT_CONFIG = ".config/nvidia-container-runtime/config.toml"


def program_path(argv0: str) -> str:
    """The path of the running program for :func:`locate`: the frozen binary's own file (runc
    starts hooks with a bare ``argv[0]``), else ``argv[0]``."""
    import sys
    if "_hookexec" in sys.builtin_module_names:  # the frozen launcher
        try:
            return oslite.readlink("/proc/self/exe")
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
        beside = oslite.join(oslite.dirname(program), TOOLKIT_CONFIG)
        if oslite.isfile(beside):
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

    try:
        with open(location.path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        if location.required:
            raise _error("file does not exist", opening=True) from None
        return HookConfig()
    except (OSError, ValueError) as exc:
        op = "read" if isinstance(exc, IsADirectoryError) else "open"
        raise _error(f"failed to load specified config file: {op} {location.path}: "
                     f"{gocompat.errno_text(getattr(exc, 'errno', None))}", opening=True) from None
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
            raise _error(f"failed to load specified config file: {exc}", opening=True) from None
    try:
        cfg = HookConfig(path=path, **_settings(tree))
    except __getattr__("_TypeMismatch") as exc:
        raise _error(f"failed to unmarshal config: {exc}") from None
    if not cfg.cli_ldconfig.startswith("@") and not cfg.allow_ldconfig_from_container:
        raise _error(f"nvidia-container-cli.ldconfig value {gocompat.quote(cfg.cli_ldconfig)} is not host-relative "
                     "(does not start with a '@')\ninvalid config value")
    if not hook_checks:
        return cfg
    if cfg.injector not in INJECTORS:
        raise _error(f"invalid value for nvidia-container-runtime-hook.injector: {cfg.injector!r} "
                     "(expected 'auto', 'library' or 'cli')")
    return validate_supported(cfg)


def validate_supported(cfg: HookConfig) -> HookConfig:
    """hook.md §9.2 step 6: ``all`` expands; every token must be a known capability.

    Returns ``cfg`` with ``all`` expanded.  Raises :class:`ConfigError`.  (The reference exits
    silently here; we name the option, see docs/compatibility.md.)
    """

    value = cfg.supported_driver_capabilities
    if value == "all":
        cfg = cfg.replace(supported_driver_capabilities=ALL_CAPS_TEXT)
        value = ALL_CAPS_TEXT
    unknown = [c for c in gocompat.split_list(value) if c not in KNOWN_CAPS]
    if unknown:
        raise errors.ConfigError(
            f"Invalid value for config option 'supported-driver-capabilities'; {value} "
            f"(supported: {ALL_CAPS_TEXT})")
    return cfg


def _type_mismatch(path, detail: str) -> Exception:
    """A value of the wrong type: ``str()`` names the key, then go-toml's wording (``Can't convert ...``).
    Its class is created only now (hook.values.lazy_classes)."""
    return __getattr__("_TypeMismatch")(f"'{'.'.join(path)}': {detail}")


__getattr__ = lazy_exception(globals(), "_TypeMismatch", Exception,
                             "A value of the wrong type (:func:`_type_mismatch`).")


def _lookup(table: dict, key: str):
    """go-toml key matching: the lower-case name wins over the ALL-UPPER one."""
    if key in table:
        return True, table[key]
    upper = key.upper()
    if upper in table:
        return True, table[upper]
    return False, None


def _settings(tree: dict) -> dict:
    """The HookConfig attributes the TOML ``tree`` sets (``sources`` included), checked against the
    schema with go-toml's rules; raises :func:`_type_mismatch`'s error at the first key of the wrong type."""
    out: dict = {}
    sources = []
    for key, attr, kind, _ in _SCHEMA:
        path = key.split(".")
        node = tree
        for depth, part in enumerate(path):
            present, value = _lookup(node, part)
            if not present:
                break
            if depth < len(path) - 1:
                if not isinstance(value, dict):
                    raise _type_mismatch(path[:depth + 1], f"Can't convert {_describe(value)} to {part}(struct)")
                node = value
        else:
            out[attr] = _checked(path, kind, value)
            sources.append(key)
    out["sources"] = tuple(sources)
    return out


def _checked(path: list[str], kind: str, value):
    if kind == "bool":
        if not isinstance(value, bool):
            raise _type_mismatch(path, f"Can't convert {_describe(value)} to bool")
    elif kind == "str":
        if not isinstance(value, str):
            raise _type_mismatch(path, f"Can't convert {_describe(value)} to string")
    elif not isinstance(value, list) or not all(isinstance(v, str) for v in value):  # "strs"
        raise _type_mismatch(path, f"Can't convert {_describe(value)} to []string(slice)")
    else:
        value = tuple(value)
    return value


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
