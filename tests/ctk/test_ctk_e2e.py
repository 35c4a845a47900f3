"""End-to-end: the real containerd 1.6, dockerd and podman of this machine, driven with the
files we generate.  Everything (state, sockets, images) lives under a pytest tmp dir or, for
paths with a length limit, a short one of ``daemons.short_dir``; daemons (``tests/daemons.py``)
are always stopped in teardown; no network, images are built from busybox-static.
A missing component is a failure, not a skip."""

from __future__ import annotations

import json
import subprocess
import tomllib

import pytest

from ctk_testlib import ctk_ok
from daemons import CONTAINERD_MAIN, Containerd, Dockerd, need, reap, short_tmpdir
from oci_bundle import busybox_layer
from toolkit_source import toolkit_source

pytestmark = pytest.mark.e2e


# --------------------------------------------------------------------------- containerd

def test_containerd_16_loads_our_drop_in_and_runs(tmp_path):
    tools = need("containerd", "ctr", "runc", "busybox")
    t = tmp_path
    main = t / "config.toml"
    main.write_text(CONTAINERD_MAIN.format(t=t))
    original = main.read_bytes()
    drop = t / "conf.d" / "99-nvidia.toml"
    common = ["--runtime=containerd", f"--config={main}", f"--drop-in-config={drop}",
              f"--toolkit-install-dir={t}/nv", "--restart-mode=none"]
    ctk_ok("install", *common, "--config-source=file", f"--toolkit-source={toolkit_source()}",
           state=t / "ctk-state")
    toolkit = t / "nv" / "toolkit"

    dump = subprocess.run([tools["containerd"], "--config", str(main), "config", "dump"],
                          capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0, dump.stderr
    cri = tomllib.loads(dump.stdout)["plugins"]["io.containerd.grpc.v1.cri"]
    assert cri["containerd"]["default_runtime_name"] == "nvidia"
    assert cri["containerd"]["snapshotter"] == "native"       # the rest of the CRI table survived
    rts = cri["containerd"]["runtimes"]
    assert rts["nvidia"]["options"]["BinaryName"] == f"{toolkit}/nvidia-container-runtime"
    assert rts["nvidia-cdi"]["options"]["BinaryName"] == f"{toolkit}/nvidia-container-runtime.cdi"
    assert rts["runc"]["runtime_type"] == "io.containerd.runc.v2"

    daemon = Containerd(t, main)
    try:
        line = daemon.wait_for(lambda: next((ln for ln in daemon.log().splitlines()
                                             if "Start cri plugin with config" in ln), None), 30, "the CRI plugin")
        assert "DefaultRuntimeName:nvidia" in line
        assert "nvidia:{Type:io.containerd.runc.v2" in line
        assert f"Options:map[BinaryName:{toolkit}/nvidia-container-runtime SystemdCgroup:false]" in line
        assert "failed to load plugin io.containerd.grpc.v1.cri" not in daemon.log()

        daemon.import_image(busybox_layer(t), "local/busybox:1")
        # run through the installed NVIDIA runtime (runs runc directly: no NVIDIA module is loaded here)
        out = daemon.run(f"{toolkit}/nvidia-container-runtime", "local/busybox:1", "c1", [],
                         "/bin/busybox", "echo", "hello from ctr")
        assert out == "hello from ctr\n"
    finally:
        daemon.stop()
    ctk_ok("uninstall", *common, state=t / "ctk-state")
    assert main.read_bytes() == original
    assert not drop.exists() and not toolkit.exists()


# --------------------------------------------------------------------------- dockerd

def test_dockerd_reloads_our_daemon_json_and_runs_with_nvidia_runtime(tmp_path):
    tools = need("dockerd", "docker", "runc", "busybox")
    t = tmp_path
    cfg = t / "daemon.json"
    original = b'{\n  "log-level": "info",\n  "features": {"buildkit": false}\n}\n'
    cfg.write_bytes(original)
    dockerd_flags = ("--ip-masq=false", "--config-file", str(cfg))
    dockerd = Dockerd(t, *dockerd_flags)
    sock = dockerd.sock
    try:
        common = ["--runtime=docker", f"--config={cfg}", f"--toolkit-install-dir={t}/nv",
                  "--restart-mode=signal", f"--socket={sock}"]
        # SIGHUP via the socket's peer
        ctk_ok("install", *common, f"--toolkit-source={toolkit_source()}", state=t / "ctk-state")
        info = dockerd.wait_for(lambda: (i := dockerd.info()).get("DefaultRuntime") == "nvidia" and i,
                                30, "dockerd to reload daemon.json")
        assert {"nvidia", "nvidia-cdi", "nvidia-legacy"} <= set(info["Runtimes"])
        assert info["Runtimes"]["nvidia"]["path"] == f"{t}/nv/toolkit/nvidia-container-runtime"

        r = subprocess.run([tools["docker"], "-H", f"unix://{sock}", "import", "-", "local/bb:1"],
                           input=busybox_layer(t), capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run([tools["docker"], "-H", f"unix://{sock}", "run", "--rm", "--runtime=nvidia",
                            "--network=none", "local/bb:1", "/bin/busybox", "echo", "hello from docker"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert r.stdout == "hello from docker\n"

        ctk_ok("uninstall", *common, state=t / "ctk-state")
        assert cfg.read_bytes() == original
        # dockerd's SIGHUP reload never removes runtimes (only keys present are applied):
        # a restart of the daemon shows the original configuration again
        dockerd.stop(timeout=30)
        dockerd = Dockerd(t, *dockerd_flags)
        info = dockerd.info()
        assert info["DefaultRuntime"] == "runc"
        assert not any(r.startswith("nvidia") for r in info["Runtimes"])
    finally:
        dockerd.stop()


# --------------------------------------------------------------------------- podman

def test_podman_runs_the_hook_from_our_hooks_d_json(tmp_path):
    tools = need("podman", "runc", "busybox")
    t = tmp_path
    hook = t / "fake-hook"
    hook.write_text(f"#!/bin/sh\necho \"$@\" > {t}/hook-args\ncat > {t}/hook-state.json\n")
    hook.chmod(0o755)
    hooks_json = t / "hooks.d" / "oci-nvidia-hook.json"
    ctk_ok("runtime", "configure", "--config-mode=oci-hook", f"--oci-hook-path={hooks_json}",
           f"--nvidia-runtime-hook-path={hook}", state=t / "ctk-state")
    with short_tmpdir("ctkpm") as run:   # podman: runroot < 50 characters
        podman = [tools["podman"], "--root", f"{t}/storage", "--runroot", str(run), "--storage-driver", "vfs",
                  "--cgroup-manager", "cgroupfs", "--events-backend", "file", "--hooks-dir", str(hooks_json.parent),
                  "--tmpdir", f"{t}/tmp", "--runtime", "runc"]
        try:
            r = subprocess.run(podman + ["import", "-", "local/bb:1"], input=busybox_layer(t),
                               capture_output=True, timeout=60)
            assert r.returncode == 0, r.stderr
            r = subprocess.run(podman + ["run", "--rm", "--network=none", "--ulimit", "nofile=1024:1024",
                                         "--ulimit", "nproc=1024:1024", "local/bb:1",
                                         "/bin/busybox", "echo", "hello from podman"],
                               capture_output=True, text=True, timeout=120)
            assert r.returncode == 0, r.stderr
            assert r.stdout == "hello from podman\n"
            assert (t / "hook-args").read_text() == "prestart\n"
            st = json.loads((t / "hook-state.json").read_text())
            assert st["status"] == "creating" and st["bundle"].startswith(str(t))
        finally:
            reap(t)
    ctk_ok("runtime", "unconfigure", "--config-mode=oci-hook", f"--oci-hook-path={hooks_json}",
           state=t / "ctk-state")
    assert not hooks_json.exists()
