"""hook.md §9, §11.3, §11.14: locating, parsing and validating config.toml."""

from __future__ import annotations

import pytest

from hook import config as C
from hook.errors import ConfigError
from hook.resolve import Decision, Host, build_plan, normalise_ldconfig
from hook.state import HookState

from hook_testlib import make_spec

ALL7 = C.ALL_CAPS_TEXT
PREFIX = "error getting hook config: failed to load config: "


def parse(text: str) -> C.HookConfig:
    return C.parse(text.encode())


@pytest.mark.parametrize("case_id,text,expected", [
    ("HC02", 'supported-driver-capabilities = "all"', ALL7),
    ("HC04", "", ALL7),
    ("HC05", 'supported-driver-capabilities = ""', ""),
    ("HC06", 'supported-driver-capabilities = "compute,utility"', "compute,utility"),
])
def test_hook_config_supported_caps(case_id, text, expected):
    assert parse(text).supported_driver_capabilities == expected


def test_no_file_gives_defaults_HC01(tmp_path):
    cfg = C.load(C.Location(str(tmp_path / "absent.toml"), False, "default"))
    assert cfg.supported_driver_capabilities == ALL7 and cfg.cli_load_kmods and cfg.accept_envvar_unprivileged


@pytest.mark.parametrize("value", ["compute,utility,not-compute", "ALL", "compute,all", "none", "foo"])
def test_invalid_supported_caps_names_the_option_HC03(value):
    # Deviation: the reference exits 1 silently (docs/compatibility.md).
    with pytest.raises(ConfigError) as exc:
        parse(f'supported-driver-capabilities = "{value}"')
    assert str(exc.value) == (f"Invalid value for config option 'supported-driver-capabilities'; {value} "
                              f"(supported: {ALL7})")


def test_required_file_missing_is_fatal(tmp_path):
    with pytest.raises(ConfigError) as exc:
        C.load(C.Location(str(tmp_path / "missing.toml"), True, "-config"))
    assert str(exc.value) == PREFIX + "couldn't open required configuration file: file does not exist"


def test_dangling_symlink_counts_as_missing(tmp_path):
    (tmp_path / "link.toml").symlink_to(tmp_path / "nowhere")
    assert C.load(C.Location(str(tmp_path / "link.toml"), False, "default")).mode == "auto"


def test_path_with_nul_byte():
    with pytest.raises(ConfigError) as exc:
        C.load(C.Location("/etc/x\0y.toml", True, "-config"))
    assert str(exc.value).endswith("failed to load specified config file: open /etc/x\0y.toml: invalid argument")


def test_directory_and_syntax_errors(tmp_path):
    with pytest.raises(ConfigError) as exc:
        C.load(C.Location(str(tmp_path), True, "-config"))
    assert str(exc.value) == (PREFIX + "couldn't open required configuration file: failed to load specified "
                              f"config file: read {tmp_path}: is a directory")
    (tmp_path / "bad.toml").write_text("[unterminated\n")
    with pytest.raises(ConfigError) as exc:
        C.load(C.Location(str(tmp_path / "bad.toml"), False, "default"))
    assert str(exc.value).startswith(PREFIX + "couldn't open required configuration file: failed to load "
                                              "specified config file: ")


@pytest.mark.parametrize("text", [
    'disable-require = "true"', "swarm-resource = []", 'supported-driver-capabilities = ["compute"]',
    "[nvidia-container-cli]\nuser = 5", '[nvidia-container-cli]\nload-kmods = "false"',
    '[nvidia-container-cli]\nenvironment = "FOO=1"', "[nvidia-container-cli]\nenvironment = [1]",
    "features = true", 'nvidia-container-runtime.runtimes = "runc"', "nvidia-container-runtime.modes = 5",
    'nvidia-container-cli = "x"', "[features]\nallow-unknown-oci-spec-fields = 1",
    "[nvidia-container-runtime.modes.cdi]\nspec-dirs = [true]", "[[features]]\nx = 1",
    "nvidia-container-cli.user = 1979-05-27",
])
def test_type_errors_are_fatal_B110(text):
    with pytest.raises(ConfigError) as exc:
        parse(text)
    assert str(exc.value).startswith(PREFIX + "failed to unmarshal config: ")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("value", ["/sbin/ldconfig", "", "ldconfig"])
def test_ldconfig_must_be_host_relative_B90(value):
    with pytest.raises(ConfigError) as exc:
        parse(f'[nvidia-container-cli]\nldconfig = "{value}"')
    assert str(exc.value) == (PREFIX + f'nvidia-container-cli.ldconfig value "{value}" is not host-relative '
                              "(does not start with a '@')\ninvalid config value")


def test_ldconfig_from_container_allowed_by_feature_CF12():
    cfg = parse('[nvidia-container-cli]\nldconfig = "/foo/bar/ldconfig"\n'
                "[features]\nallow-ldconfig-from-container = true\n")
    assert cfg.cli_ldconfig == "/foo/bar/ldconfig" and cfg.cli_load_kmods is True


def test_key_case_rules_B109():
    assert parse('[nvidia-container-cli]\nUSER = "upper"').cli_user == "upper"
    assert parse('[nvidia-container-cli]\nUser = "title"').cli_user is None
    assert parse('[NVIDIA-CONTAINER-CLI]\nuser = "u"').cli_user == "u"
    assert parse('[nvidia-container-cli]\nuser = "lower"\nUSER = "upper"').cli_user == "lower"
    assert parse('SWARM-RESOURCE = "X"').swarm_resource == "X"
    assert parse('Disable-Require = true').disable_require is False


INLINE = """
accept-nvidia-visible-devices-envvar-when-unprivileged = false
supported-driver-capabilities = "compute,utility"
nvidia-container-cli.root = "/bar/baz"
nvidia-container-cli.load-kmods = false
nvidia-container-cli.ldconfig = "@/foo/bar/ldconfig"
nvidia-container-cli.user = "foo:bar"
nvidia-container-cli.cuda-compat-mode = "unknown-key"
nvidia-container-runtime.debug = "/foo/bar"
nvidia-container-runtime.discover-mode = "not-bool"
nvidia-container-runtime.log-level = "debug"
nvidia-container-runtime.runtimes = ["/some/runtime"]
nvidia-container-runtime.mode = "not-auto"
nvidia-container-runtime.modes.cdi.default-kind = "example.vendor.com/device"
nvidia-container-runtime.modes.cdi.annotation-prefixes = ["cdi.k8s.io/", "example.vendor.com/"]
nvidia-container-runtime.modes.cdi.spec-dirs = ["/example/a", "/example/b"]
nvidia-container-runtime.modes.csv.mount-spec-path = "/not/etc/nvidia-container-runtime/host-files-for-container.d"
nvidia-container-runtime.modes.legacy.cuda-compat-mode = "mount"
nvidia-container-runtime-hook.path = "/foo/bar/nvidia-container-runtime-hook"
nvidia-ctk.path = "/foo/bar/nvidia-ctk"
"""


TABLES = """
accept-nvidia-visible-devices-envvar-when-unprivileged = false
supported-driver-capabilities = "compute,utility"

[nvidia-container-cli]
root = "/bar/baz"
load-kmods = false
ldconfig = "@/foo/bar/ldconfig"
user = "foo:bar"
cuda-compat-mode = "unknown-key"

[nvidia-container-runtime]
debug = "/foo/bar"
discover-mode = "not-bool"
log-level = "debug"
runtimes = ["/some/runtime"]
mode = "not-auto"

[nvidia-container-runtime.modes.cdi]
default-kind = "example.vendor.com/device"
annotation-prefixes = ["cdi.k8s.io/", "example.vendor.com/"]
spec-dirs = ["/example/a", "/example/b"]

[nvidia-container-runtime.modes.csv]
mount-spec-path = "/not/etc/nvidia-container-runtime/host-files-for-container.d"

[nvidia-container-runtime.modes.legacy]
cuda-compat-mode = "mount"

[nvidia-container-runtime-hook]
path = "/foo/bar/nvidia-container-runtime-hook"

[nvidia-ctk]
path = "/foo/bar/nvidia-ctk"
"""


@pytest.mark.parametrize("case_id,text", [("CF11", INLINE), ("CF13", TABLES)])
def test_parse_full_config(case_id, text):
    cfg = parse(text)
    assert (cfg.accept_envvar_unprivileged, cfg.supported_driver_capabilities, cfg.cli_root, cfg.cli_load_kmods,
            cfg.cli_ldconfig, cfg.cli_user, cfg.mode, cfg.cuda_compat_mode) == (
        False, "compute,utility", "/bar/baz", False, "@/foo/bar/ldconfig", "foo:bar", "not-auto", "mount")


def test_empty_file_gives_every_default_CF10():
    cfg = parse("")
    assert cfg == C.HookConfig(path=None)
    assert (cfg.disable_require, cfg.swarm_resource, cfg.accept_envvar_unprivileged, cfg.accept_volume_mounts,
            cfg.cli_root, cfg.cli_path, cfg.cli_environment, cfg.cli_debug, cfg.cli_ldcache, cfg.cli_load_kmods,
            cfg.cli_no_pivot, cfg.cli_no_cgroups, cfg.cli_ldconfig, cfg.mode, cfg.cuda_compat_mode,
            cfg.skip_mode_detection) == (False, "", True, False, "", "", (), "", "", True, False, False,
                                         "@/sbin/ldconfig", "auto", "ldconfig", False)


def test_bom_is_accepted():
    assert C.parse(b"\xef\xbb\xbfswarm-resource = 'X'\n").swarm_resource == "X"


@pytest.mark.parametrize("case_id,flag,env,expected", [
    ("flag", "/f.toml", {"NVIDIA_CTK_CONFIG_FILE_PATH": "/e.toml", "XDG_CONFIG_HOME": "/x"}, ("/f.toml", True)),
    ("env", "", {"NVIDIA_CTK_CONFIG_FILE_PATH": "/e.toml", "XDG_CONFIG_HOME": "/x"}, ("/e.toml", True)),
    ("CF08", "", {"XDG_CONFIG_HOME": "/x"}, ("/x/nvidia-container-runtime/config.toml", False)),
    ("default", "", {}, ("/etc/nvidia-container-runtime/config.toml", False)),
    ("empty-env", "", {"NVIDIA_CTK_CONFIG_FILE_PATH": "", "XDG_CONFIG_HOME": ""},
     ("/etc/nvidia-container-runtime/config.toml", False)),
])
def test_locate_B102(case_id, flag, env, expected):
    loc = C.locate(flag, env)
    assert (loc.path, loc.required) == expected


@pytest.mark.parametrize("content,user", [
    ('ID_LIKE="suse opensuse"\n', "root:video"), ("ID_LIKE=opensuse\n", "root:video"),
    ('ID_LIKE="debian"\n', ""), ("ID=suse\n", ""), ('ID_LIKE="suse-like"\n', ""),
])
def test_default_user_on_suse_CF14(tmp_path, content, user):
    (tmp_path / "os-release").write_text(content)
    assert C.default_user(str(tmp_path / "os-release")) == user


def test_configured_user_wins_on_suse_CF15():
    cfg = parse('nvidia-container-cli.user = "foo:bar"')

    class SuseHost(Host):
        def default_user(self):
            return "root:video"

    assert build_plan(Decision(privileged=False, legacy=False, devices=("0",)), cfg, make_spec(),
                      HookState(), debug_flag=False, host=SuseHost()).options.user == "foo:bar"
    assert build_plan(Decision(privileged=False, legacy=False, devices=("0",)), parse(""), make_spec(),
                      HookState(), debug_flag=False, host=SuseHost()).options.user == "root:video"


@pytest.mark.parametrize("case_id,value,expected", [
    ("CF01", "", ""), ("CF02", "/some/path/ldconfig.real", "/some/path/ldconfig.real"),
    ("CF03", "/some/path/ldconfig", "/some/path/ldconfig"),
    ("CF06", "@/does/not/exist.real", "@/does/not/exist"), ("CF07", "@/does/not/exist", "@/does/not/exist"),
    ("at", "@@/x", "@@/x"),
])
def test_ldconfig_normalise(case_id, value, expected):
    assert normalise_ldconfig(value, Host()) == expected


def test_ldconfig_normalise_existing_real_CF04_CF05(tmp_path):
    (tmp_path / "exists.real").write_text("")
    assert normalise_ldconfig(f"@{tmp_path}/exists.real", Host()) == f"@{tmp_path}/exists.real"
    assert normalise_ldconfig(f"@{tmp_path}/exists", Host()) == f"@{tmp_path}/exists.real"


def test_unknown_injector_is_a_config_error():
    with pytest.raises(ConfigError) as exc:
        parse('[nvidia-container-runtime-hook]\ninjector = "fast"\n')
    assert str(exc.value) == (PREFIX + "invalid value for nvidia-container-runtime-hook.injector: 'fast' "
                              "(expected 'auto', 'library' or 'cli')")


@pytest.mark.parametrize("text,message", [
    ('[nvidia-container-cli]\nno-pivot = "false"',
     "'nvidia-container-cli.no-pivot': Can't convert false(string) to bool"),
    ('NVIDIA-CONTAINER-CLI.LOAD-KMODS = "no"', "'nvidia-container-cli.load-kmods': Can't convert no(string) to bool"),
    ("[nvidia-container-cli]\nuser = 5", "'nvidia-container-cli.user': Can't convert 5(int64) to string"),
    ('nvidia-container-cli.environment = "FOO=1"',
     "'nvidia-container-cli.environment': Can't convert FOO=1(string) to []string(slice)"),
    ("features = true", "'features': Can't convert true(bool) to features(struct)"),
    ("nvidia-container-runtime.modes.legacy.cuda-compat-mode = 1",
     "'nvidia-container-runtime.modes.legacy.cuda-compat-mode': Can't convert 1(int64) to string"),
])
def test_type_errors_name_the_key(text, message):
    """go-toml's text alone ("Can't convert false(string) to bool") does not say which of 30 keys is wrong."""
    with pytest.raises(ConfigError) as exc:
        parse(text)
    assert str(exc.value) == PREFIX + "failed to unmarshal config: " + message
