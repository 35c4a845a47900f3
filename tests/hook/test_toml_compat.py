"""The hook's config.toml read as the reference (go-toml v1) reads it (issue 11, items 21, 22, 10).

go-toml v1's extensions to TOML 1.0 load with go-toml v1's values; empty keys are plain unknown
keys; nesting and integers beyond what a parser can hold are one-line errors, in the venv and in
the frozen binary.  hook.tomlcompat's rewrite never changes the value of valid TOML (property).
"""

from __future__ import annotations

import json
import subprocess
import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hook import config as C
from hook import minitoml, tomlcompat
from hook.errors import ConfigError

from paths import HOOK_BIN
from hook_harness import gpu_spec, run, state, write_bundle

PREFIX = ("error getting hook config: failed to load config: couldn't open required configuration file: "
          "failed to load specified config file: ")


def parse(text: str) -> C.HookConfig:
    return C.parse(text.encode())


# --------------------------------------------------------------------------- item 21: go-toml v1's extensions

@pytest.mark.parametrize("text,attr,expected", [
    # a leading-zero integer elsewhere in the file no longer fails every container
    ('legacy-count = 01\n[nvidia-container-cli]\nroot = "/r"\n', "cli_root", "/r"),
    ('[nvidia-container-cli]\nroot = "\\/run\\/driver"\n', "cli_root", "/run/driver"),
    # go's string(rune(0xD800)) is U+FFFD
    ('[nvidia-container-cli]\ndebug = "/var/log/\\uD800.log"\n', "cli_debug", "/var/log/\ufffd.log"),
    ('[nvidia-container-cli]\ndebug = "/x/\\U00110000"\n', "cli_debug", "/x/\ufffd"),
    ('nvidia-container-cli = { root = "/r",\n  load-kmods = false }\n', "cli_load_kmods", False),
    ('nvidia-container-cli = { root = "/r", # the driver root\n  user = "u" }\n', "cli_user", "u"),
    ('# a DEL \x7f in a comment\n[nvidia-container-cli]\nroot = "/r"\n', "cli_root", "/r"),
    ('[nvidia-container-cli]root = "/r"\n', "cli_root", "/r"),
    ('[nvidia-container-cli]  ldconfig = "@/sbin/ldconfig.real" # c\n', "cli_ldconfig", "@/sbin/ldconfig.real"),
    ('nvidia-container-cli.root = "/r"\n[nvidia-container-cli]\nuser = "u"\n', "cli_root", "/r"),
    ('nvidia-container-cli.root = "/r"\n[nvidia-container-cli]\nuser = "u"\n', "cli_user", "u"),
    ('[nvidia-container-runtime.modes.legacy]\ncuda-compat-mode = "mount"\n[nvidia-container-runtime]\n'
     'modes.legacy.x = 1\nmode = "legacy"\n', "cuda_compat_mode", "mount"),
    ('[features]\nallow-ldconfig-from-container = true\n[nvidia-container-cli]\nldconfig = "a\x7fb"\n',
     "cli_ldconfig", "a\x7fb"),
])
def test_go_toml_v1_extensions_load_with_its_values(text, attr, expected):
    with pytest.raises(tomllib.TOMLDecodeError):
        tomllib.loads(text)  # today's main: every container fails
    assert getattr(parse(text), attr) == expected


@pytest.mark.parametrize("text,expected", [
    ("x = 01\ny = -007\nz = +00\nf = 01.50\ng = 0_1\n", {"x": 1, "y": -7, "z": 0, "f": 1.5, "g": 1}),
    ('x = "a\\/b"\n', {"x": "a/b"}),
    ('x = "\\uD83D\\uDE00"\n', {"x": "\ufffd\ufffd"}),  # go does not pair surrogates
    ("x = 'a\x7fb'\n", {"x": "a\x7fb"}),
    ('x = "a\\   b"\n', {"x": "ab"}),
    ("x = {a = [1,\n 2],\n b = {c = 1,\n d = 2}}\n", {"x": {"a": [1, 2], "b": {"c": 1, "d": 2}}}),
    ("a.b = 1\n[a]\nc = 2\n", {"a": {"b": 1, "c": 2}}),
    ("a.b.c = 1\n[a.b]\nd = 2\n", {"a": {"b": {"c": 1, "d": 2}}}),
    ("[t]\na.b = 1\n[t.a]\nc = 2\n", {"t": {"a": {"b": 1, "c": 2}}}),
    ("[t.a]\nc = 2\n[t]\na.b = 1\n", {"t": {"a": {"b": 1, "c": 2}}}),
    ("[[t]]k = 1\n[[t]]\nk = 2\n", {"t": [{"k": 1}, {"k": 2}]}),
])
def test_loads_gives_go_toml_v1_values(text, expected):
    assert tomlcompat.loads(text) == expected


@pytest.mark.parametrize("text,expected", [
    # valid TOML 1.0 that go-toml v1 refuses stays accepted (docs/compatibility.md)
    ("d = 1979-05-27\n", {"d": __import__("datetime").date(1979, 5, 27)}),
    ("x = 0e5\n", {"x": 0.0}),
    ("x = '''a''''\n", {"x": "a'"}),
])
def test_valid_toml_the_reference_refuses_stays_accepted(text, expected):
    assert tomlcompat.loads(text) == expected


@pytest.mark.parametrize("text,message", [
    ("x = \n", "Invalid value (at line 1, column 5)"),
    ("x = 01\ny = \n", "Expected newline or end of document after a statement (at line 1, column 6)"),
    ('x = "\\q"\n', "Unescaped '\\' in a string (at line 1, column 8)"),
    ("x = {a = 1,}\n", "Invalid initial character for a key part (at line 1, column 12)"),
    ("a = 1\na = 2\n", "Cannot overwrite a value (at line 2, column 6)"),
])
def test_invalid_toml_keeps_the_message_about_the_users_text(text, message):
    with pytest.raises(ConfigError) as exc:
        parse(text)
    assert str(exc.value) == PREFIX + message


def test_prestart_runs_with_a_go_toml_v1_config(tmp_path, monkeypatch, capsys):
    cfg = ('# written for the reference \x7f\n[nvidia-container-cli]path = "/opt/test/nvidia-container-cli"\n'
           'environment = [ ]\nretries = 03\n[nvidia-container-runtime-hook]\nskip-mode-detection = true\n')
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=all"]), cfg)
    out = run([*lead, "prestart"], state(bundle), monkeypatch, capsys, cwd=bundle)
    assert out.rc is None, out.stderr
    assert out.cmd.argv[0] == "/opt/test/nvidia-container-cli"


# --------------------------------------------------------------------------- item 22: empty keys

@pytest.mark.parametrize("text", ['"" = 1\n', '[""]\nx = 1\n', "'' = 'x'\n", '[nvidia-container-cli]\n"" = 1\n',
                                  '[a]\n"".b = 1\n'])
def test_empty_keys_are_unknown_keys_and_ignored(text):
    # The reference panics (hook) on some of these; an empty key matches no option: ignored.
    cfg = parse(text + 'supported-driver-capabilities = "compute"\n' if "[" not in text else
                'supported-driver-capabilities = "compute"\n' + text)
    assert cfg.supported_driver_capabilities == "compute"
    assert cfg.cli_root == "" and cfg.cli_load_kmods is True


# --------------------------------------------------------------------------- item 10: one-line errors

DEEP = "[nvidia-container-cli]\nenvironment = " + "[" * 2000 + "]" * 2000 + "\n"
DEEP_INLINE = "x = " + "{a = " * 2000 + "1" + "}" * 2000 + "\n"
HUGE = "[nvidia-container-cli]\nroot = \"/r\"\nretries = " + "7" * 5000 + "\n"


@pytest.mark.parametrize("text,message", [
    (DEEP, "arrays or inline tables nested too deeply"),
    (DEEP_INLINE, "arrays or inline tables nested too deeply"),
    ("x = " + "[" * 2000 + "\n", "arrays or inline tables nested too deeply"),
    (HUGE, "an integer of thousands of digits is out of the signed 64-bit range"),
    ("x = 9223372036854775808\n", "integer 9223372036854775808 is out of the signed 64-bit range"),
    ("x = [01, " + "9" * 30 + "]\n", "integer 99999999999999999999... (30 digits) is out of the signed 64-bit range"),
])
def test_unparseable_sizes_are_one_line_errors(text, message):
    with pytest.raises(ConfigError) as exc:
        parse(text)
    assert str(exc.value) == PREFIX + message


def test_int64_bounds_are_accepted():
    assert tomlcompat.loads("a = 9223372036854775807\nb = -9223372036854775808\n") == \
        {"a": 2**63 - 1, "b": -2**63}


def test_minitoml_declines_deep_and_long_numbers_instead_of_failing():
    for text in (DEEP, HUGE, "x = 12345678901234567890\n"):
        with pytest.raises(minitoml.Unsupported):
            minitoml.loads(text)


@pytest.mark.parametrize("program", ["venv", "frozen"])
@pytest.mark.parametrize("text,message", [
    (DEEP, "arrays or inline tables nested too deeply"),
    (HUGE, "an integer of thousands of digits is out of the signed 64-bit range"),
])
def test_entry_points_print_one_line_and_exit_1(program, text, message, tmp_path, request):
    binary = HOOK_BIN if program == "venv" else request.getfixturevalue("frozen_bin")
    bundle = tmp_path / "b"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps(gpu_spec(["NVIDIA_VISIBLE_DEVICES=all"])))
    (tmp_path / "c.toml").write_text(text)
    res = subprocess.run([str(binary), "-config", str(tmp_path / "c.toml"), "prestart"], input=state(bundle),
                         capture_output=True, timeout=60, cwd=tmp_path)
    assert res.returncode == 1
    lines = res.stderr.decode().splitlines()
    assert len(lines) == 1 and lines[0].endswith(PREFIX + message), res.stderr
    assert "Traceback" not in res.stderr.decode() and "internal error" not in res.stderr.decode()


# --------------------------------------------------------------------------- property: valid TOML unchanged

KEYS = st.sampled_from(["a", "b", "a.b", "b.c", '"q.r"', "'lit'", '""', "x-1", "é".join('""')])
SCALARS = st.sampled_from(['"s"', "'lit'", '"a#b"', "true", "0", "-0", "+5", "12", "1.5", "0e5", "1_000",
                           '"esc\\n\\u00e9"', "''", "1979-05-27", "07:32:00", "1979-05-27 07:32:00Z", "inf",
                           '"""m\nx"""', "'''l\n'''", "0x1F", "0o17", "0b1", "-0.0", "-inf"])
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3).flatmap(lambda items: st.sampled_from([", ", ",\n  ", " ,# c\n"]).map(
        lambda sep: "[" + sep.join(items) + "]")),
    st.lists(st.tuples(st.sampled_from(["k", "l", "m.n"]), inner), max_size=3, unique_by=lambda kv: kv[0]).map(
        lambda kvs: "{" + ", ".join(f"{k} = {v}" for k, v in kvs) + "}"),
), max_leaves=6)
LINES = st.one_of(
    st.tuples(KEYS, VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    KEYS.map(lambda k: f"[{k}]"),
    KEYS.map(lambda k: f"[[{k}]]"),
    st.sampled_from(["# comment é", "", "   ", "key = 1 # trailing", "  [ t . u ]  # c"]),
)
DOCS = st.lists(LINES, max_size=8).map(lambda lines: "\n".join(lines) + "\n")


@settings(max_examples=1500, deadline=None)
@given(DOCS)
def test_rewrite_keeps_the_value_of_valid_toml(text):
    try:
        expected = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        try:
            tomlcompat.loads(text)
        except tomlcompat.TOMLError:
            pass  # invalid text may stay invalid; it must never be an exception of another kind
        return
    assert tomlcompat.loads(text) == expected
    fixed = tomlcompat.normalise(text)
    if fixed is not None:
        assert tomllib.loads(fixed) == expected
