"""hook.md §2-§3, §11.4: the stdin state, config.json decoding and privileged detection."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hook import gocompat
from hook.errors import SpecError, StateError
from hook.spec import is_privileged, load_spec, parse_spec, uses_list_capabilities
from hook.state import parse_state
from hook.version import VersionError, parse_version

MIN = {"ociVersion": "1.0.0", "process": {}, "root": {"path": "rootfs"}}


def spec_bytes(**over) -> bytes:
    doc = dict(MIN)
    doc.update(over)
    return json.dumps(doc).encode()


@pytest.mark.parametrize("case_id,version,caps,privileged", [
    ("PV01", "1.0.0", {"bounding": ["CAP_SYS_ADMIN"]}, True),
    ("PV02", "1.0.0", {"bounding": ["CAP_SYS_OTHER"]}, False),
    ("PV03", "1.0.0", None, False),
    ("PV04", "1.0.0-rc2-dev", ["CAP_SYS_ADMIN"], True),
    ("PV05", "1.0.0-rc2-dev", ["CAP_SYS_OTHER"], False),
    ("PV06", "1.0.0-rc2-dev", None, False),
    ("lower", "1.0.0", {"bounding": ["cap_sys_admin"]}, False),
    ("effective-only", "1.0.0", {"effective": ["CAP_SYS_ADMIN"], "permitted": ["CAP_SYS_ADMIN"]}, False),
    ("key-case", "1.0.0", {"BOUNDING": ["CAP_SYS_ADMIN"]}, True),
])
def test_is_privileged(case_id, version, caps, privileged):
    process = {} if caps is None else {"capabilities": caps}
    spec = parse_spec(spec_bytes(ociVersion=version, process=process))
    assert is_privileged(spec) is privileged


@pytest.mark.parametrize("version,caps,message", [
    ("1.0.0", ["CAP_SYS_ADMIN"], "json: cannot unmarshal array into Go value of type specs.LinuxCapabilities"),
    ("1.0.0-rc1", {"bounding": []}, "json: cannot unmarshal object into Go value of type []string"),
    ("1.0.0", {"bounding": "CAP_SYS_ADMIN"}, None),
])
def test_capabilities_of_the_wrong_shape_are_fatal(version, caps, message):
    spec = parse_spec(spec_bytes(ociVersion=version, process={"capabilities": caps}))
    with pytest.raises(SpecError) as exc:
        is_privileged(spec)
    assert str(exc.value).startswith("could not decode Process.Capabilities in OCI spec: ")
    if message:
        assert str(exc.value).endswith(message)


@pytest.mark.parametrize("version", [
    "1.0.0-rc1", "1.0.0-rc2-dev", "1.0.0-rc4", "v1.0.0-rc3", "1.0-rc3", "1-rc3", "01.0.0-rc3",
    "1.0.0-rc3+meta", "1.0.0-rc2.1", "1.0.0-rc4.9", "1.0.0-rc3-", "1.0.0-rc1a", "1.0.0-rc4z", "1.0.0-rc49",
    "1.0.0-rc10", "1.0.0-rc1.1",
])
def test_list_layout_versions(version):
    assert uses_list_capabilities(version)


@pytest.mark.parametrize("version", [
    "1.0.0-rc5", "1.0.0-rc5-dev", "1.0.0", "1.0.2", "0.9", "1.0.0-rc", "1.0.0-rc0", "1.0.0-RC3", "1.0.0-rc01",
    "1.0.0-rc3.01", " 1.0.0-rc3", "V1.0.0-rc3", "1.0.0-rc_3", "1.0.0-rc3..x", "garbage", "",
])
def test_object_layout_versions(version):
    assert not uses_list_capabilities(version)


@pytest.mark.parametrize("text,message", [
    ("x" * 257, "version string is too long (max 256 bytes)"),
    ("1.0.0-rc3.01", "version segment starts with 0"),
    ("1.2.3.4", "invalid semantic version"),
    ("1.\u0661", "invalid semantic version"),
])
def test_version_errors(text, message):
    with pytest.raises(VersionError) as exc:
        parse_version(text)
    assert str(exc.value) == message


@pytest.mark.parametrize("data,pid,bundle", [
    (b'{"pid": 4242, "bundle": "/b"}', 4242, "/b"),
    (b'{"pid": 4242, "bundlePath": "/b"}', 4242, "/b"),
    (b'{"bundle": "/b", "bundlePath": "/nonexistent"}', 0, "/b"),
    (b'{"bundle": "", "bundlePath": "/b"}', 0, "/b"),
    (b'{"PID": 7, "Bundle": "/b"}', 7, "/b"),
    (b'{"pid": 1, "PID": 9}', 9, ""),
    (b'{"pid": null}', 0, ""),
    (b'{"pid": 5, "pid": null}', 5, ""),
    (b'null', 0, ""),
    (b'  \n{"pid": 1} trailing garbage', 1, ""),
    (b'{"bundle": "\\/b\\/"}', 0, "/b/"),
    (b'{"pid": -5}', -5, ""),
    (b'{"bundlepath": "/b"}', 0, "/b"),
])
def test_state_decoding(data, pid, bundle):
    state = parse_state(data)
    assert (state.pid, state.bundle) == (pid, bundle)


def test_negative_pid_is_printed_unsigned_B94():
    assert parse_state(b'{"pid": -5}').cli_pid == 18446744073709551611


@pytest.mark.parametrize("data", [
    b"", b"   \t ", b"garbage", b'{"pid": 1, "bundle": "x"', b"[]", b'"x"', b'{"pid": "4242"}',
    b'{"pid": 1.5}', b'{"pid": 1e3}', b'{"pid": 1.0}', b"{'pid': 1}", b'{"bundle": 5}',
    b'{"pid": 9223372036854775808}', b'{"pid": NaN}', b'{"pid": Infinity}', b"\xef\xbb\xbf{}",
    b"[" * 100000,
])
def test_undecodable_state(data):
    with pytest.raises(StateError) as exc:
        parse_state(data)
    assert str(exc.value).startswith("could not decode container state: ")
    assert "\n" not in str(exc.value)


@pytest.mark.parametrize("bundle,path", [
    ("/b", "/b/config.json"), ("/b/", "/b/config.json"), ("/b/sub/..", "/b/config.json"),
    ("", "config.json"), ("rel", "rel/config.json"), ("//b", "/b/config.json"),
])
def test_spec_path(bundle, path):
    assert parse_state(json.dumps({"bundle": bundle}).encode()).spec_path == path


@pytest.mark.parametrize("data,message", [
    (b"{}", "Version is empty in OCI spec"),
    (b"null", "Version is empty in OCI spec"),
    (b'{"ociVersion": null, "process": {}, "root": {}}', "Version is empty in OCI spec"),
    (b'{"ociVersion": "1", "root": {}}', "Process is empty in OCI spec"),
    (b'{"ociVersion": "1", "process": null, "root": {}}', "Process is empty in OCI spec"),
    (b'{"ociVersion": "1", "process": {}}', "Root is empty in OCI spec"),
])
def test_spec_checks(data, message):
    with pytest.raises(SpecError) as exc:
        parse_spec(data)
    assert str(exc.value) == message


@pytest.mark.parametrize("data", [
    b"", b"not json", b"[]", b'{"ociVersion": 1}', b'{"process": []}', b'{"process": {"env": "A=1"}}',
    b'{"process": {"env": [1]}}', b'{"root": {"path": 5}}', b'{"mounts": {}}', b'{"mounts": [{"source": 1}]}',
    b'{"mounts": [{"options": "ro"}]}', b'{"mounts": [{"uidMappings": [{"size": -1}]}]}',
    b'{"mounts": [{"uidMappings": [{"size": 4294967296}]}]}', b'{"mounts": [{"gidMappings": [{"hostID": 1.5}]}]}',
    b"\xef\xbb\xbf{}",
])
def test_undecodable_spec(data):
    with pytest.raises(SpecError) as exc:
        parse_spec(data)
    assert str(exc.value).startswith("could not decode OCI spec: ")


def test_spec_decoding_rules():
    spec = parse_spec(b'{"OCIVERSION": "", "Process": {"ENV": ["A=1", null]}, "process": {"cwd": "/"},'
                      b' "ROOT": {"PATH": "r"}, "mounts": [{"destination": "/d", "source": "/dev/null",'
                      b' "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]}]} trailing')
    assert spec.oci_version == ""
    assert spec.env == ("A=1", "")  # repeated objects merge; null elements are ""
    assert spec.root_path == "r"
    assert [(m.destination, m.source) for m in spec.mounts] == [("/d", "/dev/null")]


def test_spec_env_null_is_empty():
    assert parse_spec(b'{"ociVersion": "1", "process": {"env": null}, "root": {}}').env == ()


def test_spec_lone_surrogate_becomes_replacement_char():
    spec = parse_spec(b'{"ociVersion": "1", "process": {"env": ["A=\\ud800"]}, "root": {}}')
    assert spec.env == ("A=\ufffd",)


def test_load_spec_errors(tmp_path):
    with pytest.raises(SpecError) as exc:
        load_spec(str(tmp_path / "nope" / "config.json"))
    assert str(exc.value) == f"could not open OCI spec: open {tmp_path}/nope/config.json: no such file or directory"
    (tmp_path / "d.json").mkdir()
    with pytest.raises(SpecError) as exc:
        load_spec(str(tmp_path / "d.json"))
    assert str(exc.value) == f"could not decode OCI spec: read {tmp_path}/d.json: is a directory"
    (tmp_path / "f").write_text("x")
    with pytest.raises(SpecError) as exc:
        load_spec(str(tmp_path / "f" / "config.json"))
    assert str(exc.value).endswith(": not a directory")


@pytest.mark.parametrize("path,cleaned", [
    ("", "."), ("/", "/"), ("//x//y/", "/x/y"), ("a/../b/./c/", "b/c"), ("../a", "../a"), ("/..", "/"),
    ("a/..", "."), ("/dev/../dev/null", "/dev/null"), ("x/../../y", "../y"),
])
def test_go_clean(path, cleaned):
    assert gocompat.clean(path) == cleaned


def test_go_trim_keeps_unit_separators():
    assert gocompat.trim("\x1c a \u3000") == "\x1c a"
    assert gocompat.split_list(",cap") == ["cap"]
    assert sorted(gocompat.split_list("cap1,cap0,cap3")) == ["cap0", "cap1", "cap3"]
    assert gocompat.split_list("  ") == [] and gocompat.split_list(",") == []


# The reference's anchored grammar (Masterminds semver, coerce mode), as a regular expression.
SEMVER = re.compile(r"v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
                    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")


@settings(max_examples=3000, deadline=None)
@given(st.text(alphabet="0129.-+vVrcaZ_ \u0661", max_size=14))
def test_version_grammar_matches_the_reference_regex(text):
    try:
        parse_version(text)
        accepted = True
    except VersionError as exc:
        accepted = str(exc) == "version segment starts with 0"  # grammar ok, rejected later
    assert accepted == bool(SEMVER.fullmatch(text))
