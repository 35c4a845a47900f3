"""Malformed inputs of every kind: whatever the bytes, configure either succeeds or fails with
exactly one error line and exit 1, never a traceback, and never touches the file on failure."""

from __future__ import annotations

import io
import logging
import os
import tempfile
import tomllib
from contextlib import redirect_stderr, redirect_stdout

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from ctk import cli, gotoml
from ctk.engines import containerd
from ctk.common import log

FRAGMENTS = {
    "docker": [b"{", b"}", b"[", b"]", b'"runtimes"', b'"default-runtime"', b'"features"', b":", b",",
               b"null", b"true", b"1e999", b"-0", b'"nvidia"', b'{"path": 1}', b"\xef\xbb\xbf", b"\xff", b" "],
    "containerd": [b"version = ", b"2", b"'2'", b"3.0", b"\n", b"[plugins]", b'[plugins."io.containerd.grpc.v1.cri"]',
                   b'[plugins."io.containerd.grpc.v1.cri".containerd]', b"runtimes = 1", b"default_runtime_name = ",
                   b'"runc"', b"[plugins.cri.containerd.runtimes.runc]", b"imports = ", b'["a/*.toml"]', b"= =",
                   b"[[plugins]]", b"{{ x }}", b"\xff", b"options = 'x'", b"containerd = []"],
    "crio": [b"[crio]", b"[crio.runtime]", b"default_runtime = ", b'"crun"', b"\n", b"[crio.runtime.runtimes.crun]",
             b"runtimes = 5", b'runtime_path = "/x"', b"crio = 1", b"[[crio.runtime]]", b"\x00", b"= "],
}


def run(args: list[str]) -> tuple[int, str]:
    err, out = io.StringIO(), io.StringIO()
    with redirect_stderr(err), redirect_stdout(out):
        cli.setup_logging(logging.INFO)
        try:
            code = cli.main(args)
        finally:
            log.handlers[:] = []
    return code, err.getvalue()


def check(runtime: str, name: str, content: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        cfg = os.path.join(d, name)
        with open(cfg, "wb") as f:
            f.write(content)
        modes = [[]] if runtime == "docker" else [[f"--drop-in-config={d}/drop/99-nvidia.toml"],
                                                     ["--drop-in-config="]]
        for extra in modes:
            common = [f"--runtime={runtime}", f"--config={cfg}", f"--state-dir={d}/state", *extra]
            code, err = run(["runtime", "configure", *common, "--set-as-default", "--cdi.enabled"])
            assert "Traceback" not in err and "internal error" not in err, err
            if code != 0:
                assert code == 1
                errors = [ln for ln in err.splitlines() if "level=error" in ln]
                assert len(errors) == 1, err
                with open(cfg, "rb") as f:
                    assert f.read() == content
                assert sorted(n for n in os.listdir(d) if n != "state") == [name]
                continue
            # whatever was configured can be undone, byte for byte
            code, err = run(["runtime", "unconfigure", *common])
            assert code == 0, err
            with open(cfg, "rb") as f:
                assert f.read() == content
            if runtime != "docker" and extra == ["--drop-in-config="]:
                # edited by the admin after configure: only our entries are removed
                assert run(["runtime", "configure", *common, "--set-as-default"])[0] == 0
                with open(cfg, "rb") as f:
                    edited = b"# admin\n" + f.read()
                with open(cfg, "wb") as f:
                    f.write(edited)
                code, err = run(["runtime", "unconfigure", *common])
                assert code == 0 and "Traceback" not in err, err
                with open(cfg, "rb") as f:
                    after = f.read()
                assert after.startswith(b"# admin\n")
                tree = tomllib.loads(after.decode())
                assert "nvidia" not in repr(gotoml.get_path(tree, _runtimes_path(runtime, tree)) or {})
                with open(cfg, "wb") as f:
                    f.write(content)
            assert sorted(os.listdir(d)) in ([name], [name, "state"])


def _runtimes_path(runtime: str, tree: dict) -> list[str]:
    if runtime == "crio":
        return ["crio", "runtime", "runtimes"]
    try:
        version = containerd.detect_version(tree)
    except Exception:
        version = 2
    return containerd.plugin_keys(version) + ["containerd", "runtimes"]


def fragments(runtime: str):
    return st.lists(st.sampled_from(FRAGMENTS[runtime]), max_size=12).map(b"".join)


KEYS = ["runtimes", "default-runtime", "features", "cdi", "nvidia", "runc", "crun", "path", "args",
        "version", "plugins", "io.containerd.grpc.v1.cri", "io.containerd.cri.v1.runtime", "cri",
        "containerd", "default_runtime_name", "options", "BinaryName", "runtime_type", "imports",
        "enable_cdi", "crio", "runtime", "default_runtime", "runtime_path", "runtime_root"]
SCALARS = st.one_of(st.booleans(), st.integers(-3, 3), st.sampled_from(["runc", "nvidia", "", "/usr/bin/crun"]),
                    st.floats(allow_nan=False, allow_infinity=False, width=32))
TREES = st.recursive(st.dictionaries(st.sampled_from(KEYS), SCALARS, max_size=3),
                     lambda inner: st.dictionaries(st.sampled_from(KEYS),
                                                   st.one_of(SCALARS, inner, st.lists(SCALARS, max_size=2)),
                                                   max_size=4),
                     max_leaves=12)


def json_docs():
    import json
    return st.tuples(TREES, st.sampled_from([None, 2, 4, "\t"])).map(
        lambda t: json.dumps(t[0], indent=t[1]).encode())


def toml_docs():
    import tomlkit
    return TREES.map(lambda t: tomlkit.dumps(t).encode())


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(json_docs() | fragments("docker") | st.binary(max_size=40))
def test_docker_any_bytes(content):
    check("docker", "daemon.json", content)


@SETTINGS
@given(toml_docs() | fragments("containerd") | st.binary(max_size=40))
def test_containerd_any_bytes(content):
    check("containerd", "config.toml", content)


@SETTINGS
@given(toml_docs() | fragments("crio") | st.binary(max_size=40))
@example(b"[[crio.runtime]][crio][crio.runtime.runtimes.crun]")  # tomlkit parsed it, then could not unwrap it
def test_crio_any_bytes(content):
    check("crio", "crio.conf", content)
