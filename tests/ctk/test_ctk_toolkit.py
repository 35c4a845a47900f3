"""The toolkit ``nvidia-ctk install`` lays down (ctk/toolkit.py), ``nvidia-ctk config``
(ctk/toolkitconfig.py), the config found beside an installed program (hook.config.locate) and the
runtime's own no-driver fallback (shim.main)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from ctk import installer, toolkit
from ctk.toolkitconfig import DEFAULT
from freeze.programs import PROGRAMS
from hook import config as hook_config
from paths import CTK_BIN as CTK
from paths import DIST_BIN as DIST


def driver_root(tmp: Path, library: bool, cli: bool) -> Path:
    root = tmp / "driver"
    (root / "usr/lib/x86_64-linux-gnu").mkdir(parents=True)
    (root / "usr/bin").mkdir(parents=True)
    if library:
        (root / "usr/lib/x86_64-linux-gnu/libnvidia-container.so.1.17.0").write_bytes(b"\x7fELF")
        (root / "usr/lib/x86_64-linux-gnu/libnvidia-container.so.1").symlink_to("libnvidia-container.so.1.17.0")
    if cli:
        (root / "usr/bin/nvidia-container-cli").write_text("#!/bin/sh\n")
        (root / "usr/bin/nvidia-container-cli").chmod(0o755)
    return root


def test_program_names_are_the_frozen_binarys():
    assert toolkit.program_names(DIST.read_bytes()) == list(PROGRAMS)
    assert toolkit.program_names(b"#!/bin/sh\n") == []


def test_backend_found_under_the_driver_root(tmp_path):
    root = driver_root(tmp_path, library=True, cli=True)
    b = toolkit.find_backend(str(root))
    # the link as found, so that a library upgrade keeps the path valid
    assert b.library == f"{root}/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"
    assert b.cli == f"{root}/usr/bin/nvidia-container-cli"
    assert str(b) == f"injection back end: {b.library}, {b.cli}"


def test_no_backend_is_a_loud_message(tmp_path):
    root = driver_root(tmp_path, library=False, cli=False)
    (root / "usr/bin/nvidia-container-cli").write_text("not executable")
    b = toolkit.find_backend(str(root))
    assert (b.library, b.cli) == (None, None)
    assert str(b) == (f"neither libnvidia-container.so.1 nor nvidia-container-cli was found under the driver root "
                      f"{root}: GPU containers will fail until the driver's container library is installed there")


def opts(tmp_path: Path, **kw) -> installer.InstallOptions:
    return installer.InstallOptions(runtime="docker", install_dir=str(tmp_path / "nv"),
                                    config=str(tmp_path / "daemon.json"), restart_mode="none",
                                    state_dir=str(tmp_path / "state"), toolkit_source=str(DIST), **kw)


def test_install_lays_down_the_binary_links_and_config(tmp_path):
    root = driver_root(tmp_path, library=True, cli=True)
    out = installer.install(opts(tmp_path, driver_root=str(root)))
    tk = tmp_path / "nv" / "toolkit"
    assert sorted(os.listdir(tk)) == sorted([".config", *PROGRAMS])
    assert (tk / "nvidia-container-runtime-hook").read_bytes() == DIST.read_bytes()
    assert (tk / "nvidia-container-runtime-hook").stat().st_mode & 0o7777 == 0o755
    for name in list(PROGRAMS)[1:]:
        assert os.readlink(tk / name) == "nvidia-container-runtime-hook"
    cfg = tomllib.loads((tk / ".config/nvidia-container-runtime/config.toml").read_text())
    assert cfg["nvidia-container-cli"] | {"environment": []} == {
        "environment": [], "ldconfig": f"@{root}/sbin/ldconfig", "load-kmods": True, "root": str(root),
        "path": f"{root}/usr/bin/nvidia-container-cli"}
    assert cfg["nvidia-container-runtime-hook"] == {
        "path": f"{tk}/nvidia-container-runtime-hook", "skip-mode-detection": False,
        "library-path": f"{root}/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"}
    rt = cfg["nvidia-container-runtime"]
    assert (rt["mode"], rt["runtimes"], rt["no-driver-fallback"]) == ("legacy", ["runc", "crun"], True)
    assert cfg["nvidia-ctk"] == {"path": f"{tk}/nvidia-ctk"}
    assert out.backend.library and out.backend.cli
    # the hook and the runtime read it (types of every key as they check them)
    loaded = hook_config.load(hook_config.locate("", {}, f"{tk}/nvidia-container-runtime"))
    assert loaded.mode == "legacy" and loaded.cli_root == str(root) and loaded.no_driver_fallback


def test_install_without_backend_warns_and_still_installs(tmp_path):
    root = driver_root(tmp_path, library=False, cli=False)
    r = subprocess.run([str(CTK), "install", "--runtime=docker", f"--config={tmp_path}/daemon.json",
                        f"--toolkit-install-dir={tmp_path}/nv", f"--driver-root={root}", "--restart-mode=none",
                        f"--state-dir={tmp_path}/state", f"--toolkit-source={DIST}"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (f"level=warning msg=\"neither libnvidia-container.so.1 nor nvidia-container-cli was found under the "
            f"driver root {root}: GPU containers will fail") in r.stderr
    cfg = tomllib.loads((tmp_path / "nv/toolkit/.config/nvidia-container-runtime/config.toml").read_text())
    assert "path" not in cfg["nvidia-container-cli"]
    assert "library-path" not in cfg["nvidia-container-runtime-hook"]


def test_missing_toolkit_binary_is_one_line_and_installs_nothing(tmp_path):
    (tmp_path / "daemon.json").write_text("{}\n")
    r = subprocess.run([str(CTK), "install", "--runtime=docker", f"--config={tmp_path}/daemon.json",
                        f"--toolkit-install-dir={tmp_path}/nv", "--restart-mode=none",
                        f"--state-dir={tmp_path}/state", f"--toolkit-source={tmp_path}/nope"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.splitlines()[-1].endswith(
        f'msg="the toolkit binary {tmp_path}/nope does not exist (build it with ./build.sh, or pass --toolkit-source)"')
    assert (tmp_path / "daemon.json").read_text() == "{}\n"
    assert not (tmp_path / "nv").exists()


# --------------------------------------------------------------------------- nvidia-ctk config

def ctk(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([str(CTK), *args], capture_output=True, text=True, timeout=60, **kw)


def test_config_default_prints_the_default_config():
    r = ctk("config", "default")
    assert r.returncode == 0 and r.stdout == DEFAULT


def test_config_set_types_from_the_schema_and_keeps_comments(tmp_path):
    f = tmp_path / "config.toml"
    f.write_text('# mine\n[nvidia-container-cli]\n#root = "/x"\nload-kmods = true  # keep\n')
    f.chmod(0o640)
    r = ctk("config", f"--config-file={f}", "--in-place", "--set", "nvidia-container-cli.root=/run/nvidia/driver",
            "--set=nvidia-container-cli.load-kmods=false", "--set", "nvidia-container-runtime.runtimes=a,b",
            "--set", "features.allow-cuda-compat-libs-from-container", "--set", "nvidia-container-cli.environment=",
            env={**os.environ, "NVIDIA_CTK_STATE_DIR": str(tmp_path / "state")})
    assert r.returncode == 0, r.stderr
    assert f.read_text() == ('# mine\n[nvidia-container-cli]\n#root = "/x"\nload-kmods = false  # keep\n'
                             'root = "/run/nvidia/driver"\nenvironment = []\n[nvidia-container-runtime]\n'
                             'runtimes = ["a", "b"]\n[features]\nallow-cuda-compat-libs-from-container = true\n')
    assert f.stat().st_mode & 0o777 == 0o640
    assert r.stdout == ""


def test_config_prints_without_in_place(tmp_path):
    f = tmp_path / "config.toml"
    f.write_text('[nvidia-ctk]\npath = "nvidia-ctk"\n')
    r = ctk("config", f"--config-file={f}", "--set", "nvidia-ctk.path=/opt/nvidia-ctk")
    assert r.returncode == 0 and r.stdout == '[nvidia-ctk]\npath = "/opt/nvidia-ctk"\n'
    assert f.read_text() == '[nvidia-ctk]\npath = "nvidia-ctk"\n'


@pytest.mark.parametrize("arg, message", [
    ("nvidia-container-cli.rot=/x", 'invalid --set option "nvidia-container-cli.rot": unknown config key'),
    ("nvidia-container-cli=/x", 'invalid --set option "nvidia-container-cli": nvidia-container-cli is a table, '
                                'not a value'),
    ("nvidia-container-cli.root", 'invalid --set option "nvidia-container-cli.root": expected KEY=VALUE'),
    ("nvidia-container-cli.load-kmods=maybe", 'invalid boolean value "maybe" for -nvidia-container-cli.load-kmods: '
                                              'parse error'),
])
def test_config_bad_set_is_one_line(tmp_path, arg, message):
    r = ctk("config", f"--config-file={tmp_path}/c.toml", "--set", arg)
    assert r.returncode == 1 and r.stdout == ""
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert f'msg="{json.dumps(message)[1:-1]}"' in r.stderr


# --------------------------------------------------------------------------- config beside the program

def test_installed_program_finds_the_toolkit_config(tmp_path):
    cfg = tmp_path / ".config/nvidia-container-runtime/config.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text("")
    prog = f"{tmp_path}/nvidia-container-runtime"
    assert hook_config.locate("", {}, prog) == hook_config.Location(str(cfg), True, "toolkit")
    # the environment variable and -config still win; a bare name or another directory: as before
    assert hook_config.locate("", {"NVIDIA_CTK_CONFIG_FILE_PATH": "/e.toml"}, prog).path == "/e.toml"
    assert hook_config.locate("/f.toml", {}, prog).path == "/f.toml"
    assert hook_config.locate("", {}, "nvidia-container-runtime").source == "default"
    assert hook_config.locate("", {}, f"{tmp_path}/sub/nvidia-container-runtime").source == "default"


# --------------------------------------------------------------------------- no driver: run the runtime

RECORDER = '#!/bin/sh\nprintf "%s\\n" "$@" > "$(dirname "$0")/argv.txt"\nexit 0\n'


@pytest.mark.parametrize("modules, fallback, modified", [
    ("snd 1 0 - Live 0x0\n", True, False),
    ("snd 1 0 - Live 0x0\nnvidia 100 2 nvidia_uvm, Live 0x0\n", True, True),
    ("nvidia_uvm 1 0 - Live 0x0\n", True, False),        # only "nvidia " counts, as upstream's grep
    (None, True, False),                                   # unreadable modules file
    ("snd 1 0 - Live 0x0\n", False, True),                 # off (the default): as the reference
])
def test_runtime_without_driver_runs_the_low_level_runtime(tmp_path, modules, fallback, modified):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin/runc").write_text(RECORDER)
    (tmp_path / "bin/runc").chmod(0o755)
    if modules is not None:
        (tmp_path / "modules").write_text(modules)
    (tmp_path / "config.toml").write_text(
        f'[nvidia-container-runtime]\nmode = "legacy"\nruntimes = ["{tmp_path}/bin/runc"]\n'
        f'no-driver-fallback = {str(fallback).lower()}\ndriver-modules-file = "{tmp_path}/modules"\n'
        f'[nvidia-container-runtime-hook]\npath = "/opt/hook"\n')
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    spec = {"ociVersion": "1.2.0", "process": {"env": ["NVIDIA_VISIBLE_DEVICES=1"], "cwd": "/"},
            "root": {"path": "rootfs"}}
    (bundle / "config.json").write_text(json.dumps(spec))
    r = subprocess.run([sys.executable, "-m", "shim", "create", "--bundle", str(bundle), "c1"],
                       env={"PATH": "/usr/bin:/bin", "NVIDIA_CTK_CONFIG_FILE_PATH": str(tmp_path / "config.toml")},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "bin/argv.txt").read_text().splitlines() == ["create", "--bundle", str(bundle), "c1"]
    after = json.loads((bundle / "config.json").read_text())
    assert ("hooks" in after) == modified
    if modified:
        assert r.stderr == ""
    else:
        assert r.stderr == f"nvidia driver modules are not yet loaded, invoking {tmp_path}/bin/runc directly\n"
        assert after == spec


def test_frozen_hook_with_a_bare_argv0_finds_the_toolkit_config(tmp_path):
    """runc starts the hook as ``args[0] = "nvidia-container-runtime-hook"`` (no directory): the frozen
    binary finds the config beside its own file."""
    tk = tmp_path / "toolkit"
    (tk / ".config/nvidia-container-runtime").mkdir(parents=True)
    (tk / ".config/nvidia-container-runtime/config.toml").write_text("")
    shutil.copy2(DIST, tk / "nvidia-container-runtime-hook")
    (tmp_path / "b").mkdir()
    (tmp_path / "b/config.json").write_text('{"ociVersion": "1.2.0", "process": {"env": []}, "root": {"path": "r"}}')
    r = subprocess.run(["nvidia-container-runtime-hook", "explain", "--bundle", str(tmp_path / "b"), "--json"],
                       executable=tk / "nvidia-container-runtime-hook", cwd="/", env={},
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["config"] | {"keys_set": []} == {
        "path": f"{tk}/.config/nvidia-container-runtime/config.toml", "source": "toolkit", "present": True,
        "keys_set": []}



@pytest.mark.parametrize("driver", ["/", "/run/nvidia/driver"])
def test_backend_is_searched_under_the_host_mount_and_named_by_host_paths(tmp_path, driver):
    """The installer container sees the host's / at --host-root: it looks there, writes host paths."""
    host = tmp_path / "host"
    tree = driver_root(tmp_path, library=True, cli=True)
    (host / driver.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    tree.rename(host / driver.lstrip("/") if driver != "/" else host)
    b = toolkit.find_backend(driver, str(host))
    assert (b.root, b.library, b.cli) == (driver, os.path.join(driver, "usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"),
                                          os.path.join(driver, "usr/bin/nvidia-container-cli"))
    assert toolkit.find_backend(driver, str(tmp_path / "elsewhere")) == toolkit.Backend(driver, None, None)
