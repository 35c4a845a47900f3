"""End to end: real runc driven through ``nvidia-container-runtime`` as an engine drives a
``--runtime`` (``create``, ``start``, ``state``, ``delete`` with a private ``--root``), the config
naming ``runtimes = ["runc"]`` and legacy mode.  A GPU container's spec gets the prestart hook
(the venv hook, which runc then runs: it execs a recording nvidia-container-cli); a non-GPU
container's spec is left byte-for-byte alone and no hook runs; pass-through calls reach runc
with their argv unchanged.  Then the same through containerd 1.6 (``ctr run --runc-binary``): the
engine's own flags (``--root``, ``--log``, ``--log-format json``) reach the shim and runc."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

import oci_bundle
from daemons import CONTAINERD_MAIN, Containerd, need
from oci_bundle import busybox_layer
from paths import HOOK_BIN as HOOK
from paths import SHIM_BIN as SHIM

pytestmark = pytest.mark.e2e


@pytest.fixture
def node(tmp_path):
    """A private runc root, a recording nvidia-container-cli and the toolkit config."""
    assert os.geteuid() == 0, "end-to-end tests need root"
    need("runc")
    assert SHIM.exists() and HOOK.exists(), "run ./build.sh"
    record = tmp_path / "cli-argv"
    cli = tmp_path / "nvidia-container-cli"
    cli.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {record}\nexit 0\n")
    cli.chmod(0o755)
    config = node_config(tmp_path, cli)
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "NVIDIA_CTK_CONFIG_FILE_PATH": str(config)}
    root = tmp_path / "runc-root"
    yield {"tmp": tmp_path, "env": env, "root": root, "record": record}
    for ctr in (root.iterdir() if root.exists() else ()):
        subprocess.run(["runc", "--root", str(root), "delete", "-f", ctr.name], capture_output=True)


def node_config(tmp: Path, cli: Path) -> Path:
    config = tmp / "config.toml"
    config.write_text(f'[nvidia-container-cli]\npath = "{cli}"\n'
                      f'[nvidia-container-runtime]\nmode = "legacy"\nruntimes = ["runc"]\n'
                      f'[nvidia-container-runtime-hook]\npath = "{HOOK}"\n')
    return config


def shim(node, *args, cwd=None, stdout=subprocess.PIPE, stderr=subprocess.PIPE):
    return subprocess.run([str(SHIM), "--root", str(node["root"]), *args], env=node["env"], cwd=cwd,
                          stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr, text=True, timeout=60)


def run_container(node, bundle: Path, ctr: str) -> str:
    """create (cwd = bundle, as containerd does), start, wait until stopped, delete; the container's output."""
    out, err = bundle.parent / f"{ctr}.out", bundle.parent / f"{ctr}.err"
    with open(out, "w") as f, open(err, "w") as e:  # the container inherits them: no pipes
        res = shim(node, "create", "--bundle", str(bundle), ctr, cwd=bundle, stdout=f, stderr=e)
    assert res.returncode == 0, err.read_text()
    res = shim(node, "start", ctr)
    assert res.returncode == 0, res.stderr
    for _ in range(200):
        state = shim(node, "state", ctr)
        if json.loads(state.stdout)["status"] == "stopped":
            break
        time.sleep(0.05)
    res = shim(node, "delete", ctr)
    assert res.returncode == 0, res.stderr
    assert err.read_text() == ""
    return out.read_text()


def test_gpu_container_gets_the_prestart_hook_and_runs_it(node):
    bundle = oci_bundle.runc_bundle(node["tmp"] / "gpu", ["echo", "gpu ok"],
                                    ("NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=utility"))
    original = json.loads((bundle / "config.json").read_text())
    output = run_container(node, bundle, f"shim-gpu-{os.getpid()}")
    assert output == "gpu ok\n"
    written = json.loads((bundle / "config.json").read_text())
    assert written.pop("hooks") == {"prestart": [{"path": str(HOOK), "args": ["nvidia-container-runtime-hook",
                                                                              "prestart"]}]}
    assert written == original  # nothing else touched
    argv = node["record"].read_text().splitlines()  # the hook ran and exec'd the CLI
    assert argv[-1] == str(bundle / "rootfs") and "--device=all" in argv and "--utility" in argv


def test_non_gpu_container_gets_no_hook(node):
    bundle = oci_bundle.runc_bundle(node["tmp"] / "plain", ["echo", "hello"])
    before = (bundle / "config.json").read_bytes()
    assert run_container(node, bundle, f"shim-plain-{os.getpid()}") == "hello\n"
    assert (bundle / "config.json").read_bytes() == before
    assert not node["record"].exists()


def test_pass_through_calls_reach_runc_unchanged(node):
    res = shim(node, "list", "--format", "json")
    direct = subprocess.run(["runc", "--root", str(node["root"]), "list", "--format", "json"],
                            capture_output=True, text=True)
    assert (res.returncode, res.stdout, res.stderr) == (direct.returncode, direct.stdout, direct.stderr)
    res = shim(node, "state", "no-such-container")
    direct = subprocess.run(["runc", "--root", str(node["root"]), "state", "no-such-container"],
                            capture_output=True, text=True)
    assert res.returncode == direct.returncode != 0 and "container does not exist" in res.stderr
    version = subprocess.run([str(SHIM), "--version"], env=node["env"], capture_output=True, text=True)
    runc_version = subprocess.run(["runc", "--version"], capture_output=True, text=True).stdout
    assert version.stdout == f"NVIDIA Container Runtime version 1.20.0\nspec: 1.3.0\n\n{runc_version}"


def test_containerd_runs_gpu_and_plain_containers_through_the_shim(node):
    need("containerd", "ctr", "runc", "busybox")
    t = node["tmp"] / "ctrd"
    t.mkdir()
    main = t / "config.toml"
    main.write_text(CONTAINERD_MAIN.format(t=t))
    # containerd's environment reaches the runc shim, ours, runc and the hook
    daemon = Containerd(t, main, env=dict(os.environ, **node["env"]))
    try:
        daemon.import_image(busybox_layer(t), "local/busybox:1")

        def run(name: str, *env: str) -> str:
            return daemon.run(str(SHIM), "local/busybox:1", name, env, "/bin/busybox", "echo", f"hello from {name}")
        assert run("plain") == "hello from plain\n"
        assert not node["record"].exists()  # no hook ran
        assert run("gpu", "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=utility") == "hello from gpu\n"
        argv = node["record"].read_text().splitlines()
        assert "--device=all" in argv and "--utility" in argv and argv[-1].endswith("/rootfs")
    finally:
        daemon.stop()
