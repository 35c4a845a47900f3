"""The CDI hooks' container root (spec section 5): the OCI state and ``<bundle>/config.json`` read by
the hook's readers (hook.state, hook.spec: bounded, Go's JSON rules), errors in the reference's
wording, one line, exit 1."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from cdi.errors import HookError
from cdi.rootfs import container_root
from hook import gojson


def bundle(tmp_path, config) -> str:
    b = tmp_path / "bundle"
    (b / "rootfs").mkdir(parents=True)
    (b / "config.json").write_text(config if isinstance(config, str) else json.dumps(config))
    return str(b)


def state(b: str, **extra) -> io.BytesIO:
    return io.BytesIO(json.dumps({"ociVersion": "1.0.2", "id": "x", "pid": 1, "bundle": b, **extra}).encode())


def error_of(stream) -> str:
    with pytest.raises(HookError) as exc:
        container_root(stream)
    return str(exc.value)


def test_relative_root_is_joined_to_the_bundle_and_cleaned(tmp_path):
    b = bundle(tmp_path, {"ociVersion": "1.0.2", "root": {"path": "./rootfs/"}})
    assert container_root(state(b)) == f"{b}/rootfs"
    b2 = bundle(tmp_path / "2", {"root": {"path": "../x/rootfs"}})
    assert container_root(state(b2)) == f"{tmp_path}/2/x/rootfs"


def test_absolute_root_is_taken_as_it_is(tmp_path):
    b = bundle(tmp_path, {"root": {"path": "/somewhere/rootfs"}})
    assert container_root(state(b)) == "/somewhere/rootfs"


def test_only_root_is_decoded_like_the_references_minimal_spec(tmp_path):
    """No process, no ociVersion, a mounts field of the wrong type: only root.path matters."""
    b = bundle(tmp_path, {"root": {"path": "rootfs"}, "mounts": 7})
    assert container_root(state(b)) == f"{b}/rootfs"


def test_malformed_state(tmp_path):
    assert error_of(io.BytesIO(b"not json")) == (
        "failed to load container state: failed to decode container state: "
        "invalid character 'o' in literal null (expecting 'u')")
    assert error_of(io.BytesIO(b'{"bundle": 3}')) == (
        "failed to load container state: failed to decode container state: "
        "json: cannot unmarshal number into Go struct field HookState.bundle of type string")


@pytest.mark.parametrize("data,message", [
    (b"not json", "invalid character 'o' in literal null (expecting 'u')"),
    (b'{"bundle": tx}', "invalid character 'x' in literal true (expecting 'r')"),
    (b"[fals!]", "invalid character '!' in literal false (expecting 'e')"),
    (b"nul", "unexpected EOF"),
    (b"x", "invalid character 'x' looking for beginning of value"),
])
def test_misspelt_literals_get_gos_message(data, message):
    """The message the CDI corpus records for a malformed state (hook-update-ldcache-bad-state)."""
    with pytest.raises(gojson.DecodeError) as exc:
        gojson.decode_first(data)
    assert str(exc.value) == message


@pytest.mark.parametrize("config", [{"ociVersion": "1.0.2"}, {"root": None}, {"root": {}}, {"root": {"path": ""}}])
def test_missing_root_path_is_refused_not_taken_as_the_bundle(tmp_path, config):
    assert error_of(state(bundle(tmp_path, config))) == "failed to determined container root: root.path is empty"


def test_empty_bundle_is_refused():
    assert error_of(state("")) == "failed to determined container root: bundle path is empty"


def test_missing_and_malformed_config(tmp_path):
    b = tmp_path / "nothing"
    assert error_of(state(str(b))) == (
        f"failed to determined container root: failed to open OCI spec file: open {b}/config.json: "
        "no such file or directory")
    b = bundle(tmp_path, '{"root": {"path": 1}}')
    assert error_of(state(b)) == (
        "failed to determined container root: failed to load OCI spec: "
        "json: cannot unmarshal number into Go struct field .root.path of type string")


def test_oversized_state_and_config_are_refused_without_reading_them_whole(tmp_path):
    big = b" " * (gojson.INPUT_LIMIT + 1) + b"{}"
    (tmp_path / "state.json").write_bytes(big)
    with open(tmp_path / "state.json", "rb") as f:  # a regular file, as --container-spec gives
        message = error_of(f)
    limit = f"no complete JSON value in the first {gojson.INPUT_LIMIT} bytes (the limit)"
    assert message == f"failed to load container state: failed to decode container state: read /dev/stdin: {limit}"
    b = bundle(tmp_path, {"root": {"path": "rootfs"}})
    with open(f"{b}/config.json", "wb") as f:
        f.write(big)
    assert error_of(state(b)) == (
        f"failed to determined container root: failed to load OCI spec: read {b}/config.json: {limit}")


def test_hook_with_unreadable_container_spec_file_is_one_error_line(tmp_path):
    missing = tmp_path / "state.json"
    p = subprocess.run([sys.executable, "-c", "import sys; from cdi.hook import main; sys.exit(main())",
                        "create-symlinks", "--container-spec", str(missing), "--link", "a::/b"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert p.stderr.splitlines() == [p.stderr.splitlines()[0]]
    assert p.stderr.rstrip().endswith(
        f'msg="failed to load container state: failed to open file: open {missing}: no such file or directory"')


def test_hook_reads_the_state_from_a_container_spec_file(tmp_path):
    b = bundle(tmp_path, {"root": {"path": "rootfs"}})
    (tmp_path / "state.json").write_text(json.dumps({"bundle": b}))
    p = subprocess.run([sys.executable, "-c", "import sys; from cdi.hook import main; sys.exit(main())",
                        "create-symlinks", "--container-spec", str(tmp_path / "state.json"), "--link", "t::/l"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert (tmp_path / "bundle" / "rootfs" / "l").readlink().as_posix() == "t"


def test_an_oversized_container_spec_file_is_named_in_the_error(tmp_path):
    spec = tmp_path / "state.json"
    spec.write_bytes(b" " * (gojson.INPUT_LIMIT + 1) + b"{}")
    p = subprocess.run([sys.executable, "-c", "import sys; from cdi.hook import main; sys.exit(main())",
                        "create-symlinks", "--container-spec", str(spec), "--link", "t::/l"],
                       capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert p.returncode == 1
    assert f'failed to decode container state: read {spec}: no complete JSON value in the first' in p.stderr
