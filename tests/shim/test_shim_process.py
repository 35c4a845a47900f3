"""The shim as a process: what the pass-through and create paths import, what they write, and
what reaches the low-level runtime (a recording stand-in)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import classes
import importtime as imports
from classes import command as record_classes
from importtime import imported

RECORDER = """#!/bin/sh
printf '%s\\n' "$0" "$@" > "$(dirname "$0")/argv.txt"
exit 7
"""
HEAVY = ("re", "json", "dataclasses", "typing", "inspect", "enum", "tomllib", "datetime", "ctypes", "yaml",
         "subprocess", "signal", "traceback", "tempfile", "glob", "fnmatch", "cffi", "_cffi_backend", "tomlkit",
         "struct")  # struct: an extension module the frozen binary loads from memory (memfd + dlopen)


def setup_dir(tmp_path: Path, config: str | None, spec: dict | None) -> dict:
    (tmp_path / "bin").mkdir()
    runc = tmp_path / "bin" / "runc"
    runc.write_text(RECORDER)
    runc.chmod(0o755)
    (tmp_path / "bundle").mkdir()
    if spec is not None:
        (tmp_path / "bundle" / "config.json").write_text(json.dumps(spec, indent=2))
    env = {"PATH": f"{tmp_path}/bin:/usr/bin:/bin", "NVIDIA_CTK_CONFIG_FILE_PATH": str(tmp_path / "config.toml")}
    if config is not None:
        (tmp_path / "config.toml").write_text(config)
    return env


def run_shim(tmp_path, env, *args, importtime=False, classes=False):
    """``python -m shim ARGS`` in the bundle directory; ``importtime``: ``shim.main:main`` under ``-X importtime``
    as the frozen launcher starts it (``importtime.command``: ``-I -S``, no ``runpy``, which imports ``os``);
    ``classes``: through ``classes.command``, which prints each exception class the run creates."""
    if importtime:
        prog = imports.command("shim.main:main")
    else:
        prog = record_classes("shim.main:main") if classes else [sys.executable, "-m", "shim"]
    return subprocess.run([*prog, *args], cwd=tmp_path / "bundle", env=env, capture_output=True, text=True)


def recorded(tmp_path) -> list[str]:
    return (tmp_path / "bin" / "argv.txt").read_text().splitlines()


def spec(env):
    return {"ociVersion": "1.2.0", "process": {"env": env, "cwd": "/", "user": {"uid": 0, "gid": 0}},
            "root": {"path": "rootfs"}}


@pytest.mark.parametrize("with_config", [False, True])
def test_pass_through_imports_only_the_config_reader(tmp_path, with_config):
    """A non-create call decides from argv, reads the config (the runtime list) and execs: no spec,
    no decision, no heavy module."""
    env = setup_dir(tmp_path, 'log-level = "info"\n[nvidia-container-runtime]\nruntimes = ["runc"]\n'
                    if with_config else None, None)
    proc = run_shim(tmp_path, env, "--root", "/r", "state", "ctr", importtime=True)
    assert proc.returncode == 7, proc.stderr
    mods = imported(proc.stderr)
    assert {"shim.main", "shim.argv", "hook.config"} <= mods  # the measurement works
    assert ("hook.minitoml" in mods) is with_config
    for name in ("shim.create", "shim.ocispec", "shim.modify", "shim.cdispec", "shim.devices", "hook.spec",
                 "hook.decide", "hook.image", "hook.gojson", "hook.mode", "hook.plan", *HEAVY, *imports.OS):
        assert name not in mods, name


def test_non_gpu_create_imports_no_heavy_module_and_leaves_the_spec_alone(tmp_path):
    env = setup_dir(tmp_path, '[nvidia-container-runtime]\nmode = "legacy"\n', spec(["PATH=/bin"]))
    path = tmp_path / "bundle" / "config.json"
    before = (path.read_bytes(), path.stat().st_ino, path.stat().st_mtime_ns)
    proc = run_shim(tmp_path, env, "create", "--bundle", str(tmp_path / "bundle"), "ctr", importtime=True)
    assert proc.returncode == 7, proc.stderr
    mods = imported(proc.stderr)
    assert {"shim.create", "hook.decide"} <= mods
    for name in (*HEAVY, *imports.OS):
        assert name not in mods, name
    assert (path.read_bytes(), path.stat().st_ino, path.stat().st_mtime_ns) == before


def test_gpu_create_imports_no_heavy_module_nor_os(tmp_path):
    """A legacy GPU create (spec read, hook added, spec written back atomically, runtime exec'd) goes
    through ``hook.oslite``: ``os`` stays out as on the hook's own prestart path."""
    env = setup_dir(tmp_path, '[nvidia-container-runtime]\nmode = "legacy"\n', spec(["NVIDIA_VISIBLE_DEVICES=0"]))
    hook = tmp_path / "bin" / "nvidia-container-runtime-hook"
    hook.write_text("#!/bin/sh\n")
    hook.chmod(0o755)
    proc = run_shim(tmp_path, env, "create", "--bundle", str(tmp_path / "bundle"), "ctr", importtime=True)
    assert proc.returncode == 7, proc.stderr
    assert json.loads((tmp_path / "bundle" / "config.json").read_text())["hooks"]["prestart"][0]["path"] == str(hook)
    mods = imported(proc.stderr)
    assert {"shim.create", "shim.modify", "hook.atomicfile"} <= mods  # the measurement works
    for name in (*HEAVY, *imports.OS):
        assert name not in mods, name


@pytest.mark.parametrize("args, devices", [(("--root", "/r", "state", "ctr"), None), (("create", "ctr"), "void"),
                                            (("create", "ctr"), "0")])
def test_a_call_that_succeeds_creates_no_exception_class(tmp_path, args, devices):
    """Pass-through, non-GPU and GPU create up to the exec of the runtime: no exception class is created
    (hook.values.lazy_classes); a failing call creates its family."""
    env = setup_dir(tmp_path, '[nvidia-container-runtime]\nmode = "legacy"\n',
                    spec([f"NVIDIA_VISIBLE_DEVICES={devices}"]) if devices else None)
    proc = run_shim(tmp_path, env, *args, classes=True)
    assert proc.returncode == 7, proc.stderr  # the recording runc ran
    assert classes.created(proc.stderr) == []
    (tmp_path / "bundle" / "config.json").write_text("{")
    failed = run_shim(tmp_path, env, "create", "ctr", classes=True)
    assert failed.returncode == 1 and "shim.errors.ConstructError" in classes.created(failed.stderr)


def test_gpu_create_rewrites_the_spec_keeping_its_mode(tmp_path):
    env = setup_dir(tmp_path, '[nvidia-container-runtime]\nmode = "legacy"\n', spec(["NVIDIA_VISIBLE_DEVICES=0"]))
    hook = tmp_path / "bin" / "nvidia-container-runtime-hook"
    hook.write_text("#!/bin/sh\n")
    hook.chmod(0o755)
    path = tmp_path / "bundle" / "config.json"
    path.chmod(0o640)
    proc = run_shim(tmp_path, env, "create", "ctr")
    assert proc.returncode == 7 and proc.stdout == "" and proc.stderr == ""
    assert json.loads(path.read_text())["hooks"] == {
        "prestart": [{"path": str(hook), "args": ["nvidia-container-runtime-hook", "prestart"]}]}
    assert path.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path / "bundle")) == ["config.json"]


def test_pass_through_argv_is_forwarded_verbatim(tmp_path):
    env = setup_dir(tmp_path, None, None)
    args = ["--root", "/r", "--log", "", "exec", "--tty", "ctr", "sh", "-c", "echo 'a b'", "--", "-x", "é"]
    proc = run_shim(tmp_path, env, *args)
    assert proc.returncode == 7 and proc.stdout == "" and proc.stderr == ""
    assert recorded(tmp_path) == [f"{tmp_path}/bin/runc", *args]


@pytest.mark.parametrize("frozen", [False, True])
def test_the_runtime_gets_the_environment_as_given(tmp_path, frozen, request):
    """No entry added, none dropped, order kept: without a locale the interpreter's C-locale coercion
    sets LC_CTYPE=C.UTF-8 in its own environment, which must not reach runc (upstream's Go shim
    passes its environment on unchanged)."""
    env = setup_dir(tmp_path, None, None)
    (tmp_path / "bin" / "runc").write_text('#!/bin/sh\ncat /proc/$$/environ > "$(dirname "$0")/env.bin"\n')
    env = {"ZZ": "last?", **env, "A": "1", "EMPTY": ""}
    if frozen:  # the frozen binary under the runtime's name
        program = tmp_path / "nvidia-container-runtime"
        program.symlink_to(request.getfixturevalue("frozen_bin"))
        proc = subprocess.run([str(program), "state", "ctr"], cwd=tmp_path / "bundle", env=env, capture_output=True,
                              text=True)
    else:
        proc = run_shim(tmp_path, env, "state", "ctr")
    assert proc.returncode == 0 and proc.stderr == ""
    assert (tmp_path / "bin" / "env.bin").read_bytes().split(b"\0")[:-1] == [
        f"{k}={v}".encode() for k, v in env.items()]


def test_version_block_then_the_runtime(tmp_path):
    env = setup_dir(tmp_path, None, None)
    proc = run_shim(tmp_path, env, "--version")
    assert proc.stdout == "NVIDIA Container Runtime version 1.20.0\nspec: 1.3.0\n\n"
    assert recorded(tmp_path)[1:] == ["--version"]


def test_errors_are_one_logfmt_line_and_reach_the_log_in_json(tmp_path):
    env = setup_dir(tmp_path, '[nvidia-container-runtime]\nmode = "legacy"\n', None)
    log = tmp_path / "log" / "runc.json"
    proc = run_shim(tmp_path, env, "--log", str(log), "--log-format", "json", "create", "ctr")
    message = ("failed to create NVIDIA Container Runtime: failed to construct OCI spec modifier: failed to load "
               "OCI spec: error opening OCI specification file: open config.json: no such file or directory")
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and proc.stderr.endswith(f' level=error msg="{message}"\n')
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert lines[-1]["level"] == "error" and lines[-1]["msg"] == message
    assert {"level", "msg", "time"} == set(lines[-1])
    assert not (tmp_path / "bin" / "argv.txt").exists()


def test_config_errors_fail_every_command(tmp_path):
    env = setup_dir(tmp_path, "[nvidia-container-runtime\n", None)
    proc = run_shim(tmp_path, env, "delete", "ctr")
    assert proc.returncode == 1 and 'level=error msg="error loading config: ' in proc.stderr
    assert "error getting hook config" not in proc.stderr
