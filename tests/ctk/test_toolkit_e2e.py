"""End-to-end proof that an installed toolkit injects GPUs (issue 10 item 6): ``nvidia-ctk install``
on a private containerd 1.6 / dockerd, containers started through ``<toolkit>/nvidia-container-runtime``
(legacy mode: the prestart hook, libnvidia-container in-process: the fake library on the fake
driver), ``nvidia-ctk uninstall`` back to the original bytes.  Daemons, sockets and state live
under the pytest tmp dir and are stopped by pid.  A missing component is a failure, not a skip."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import pytest

import daemons
from ctk_testlib import ctk_ok
from daemons import CONTAINERD_MAIN, Dockerd, need
from nvc_e2e_lib import PROBE, Probe, make_rootfs
from oci_bundle import rootfs_tar
from toolkit_source import driver_root, toolkit_source

pytestmark = pytest.mark.e2e

HOOK = "nvidia-container-runtime-hook"
#: The probe image (``nvc_e2e_lib.make_rootfs``).
IMAGE = "local/probe:1"


def install_args(t: Path, *extra: str) -> list[str]:
    return [f"--toolkit-install-dir={t}/nv", f"--toolkit-source={toolkit_source()}",
            f"--driver-root={driver_root(t)}", *extra]


def driver_loaded(t: Path) -> None:
    """Point the installed runtime's no-driver check at a modules file listing ``nvidia`` (this
    machine has no NVIDIA kernel module), through ``nvidia-ctk config``."""
    (t / "modules").write_text("nvidia 56623104 2 nvidia_uvm, Live 0x0000000000000000 (POE)\n")
    ctk_ok("config", "--in-place", f"--config-file={t}/nv/toolkit/.config/nvidia-container-runtime/config.toml",
           "--set", f"nvidia-container-runtime.driver-modules-file={t}/modules", state=t / "ctk-state")


def _hide_cgroup_v2(argv: list[str]) -> list[str]:
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            f"umount /sys/fs/cgroup/unified && exec {shlex.join(argv)}"]


class Containerd(daemons.Containerd):
    """A private containerd (``daemons.Containerd``) with ``ctr`` in its namespace ``ns``, the probe
    image (:data:`IMAGE`) imported unless ``import_image`` is false."""

    def __init__(self, t: Path, main: Path, import_image: bool = True, cgroup_v1: bool = False,
                 ns: str | None = None):
        """``cgroup_v1``: run it (and so its shims and crun) with the cgroup v2 mount of this hybrid
        host hidden, as tests/e2e/test_e2e_nvc_crun.py runs crun (crun refuses hybrid mode)."""
        need("busybox", "unshare")
        super().__init__(t, main, wrap=_hide_cgroup_v2 if cgroup_v1 else None, ns=ns)
        try:
            if import_image:
                self.import_image(rootfs_tar(make_rootfs(t / "rootfs")), IMAGE)
        except BaseException:
            self.stop()
            raise


@pytest.mark.parametrize("low_level", ["runc", "crun"])
def test_containerd_install_injects_gpus_and_uninstall_restores(tmp_path, low_level):
    need(low_level)
    t = tmp_path
    main = t / "config.toml"
    main.write_text(CONTAINERD_MAIN.format(t=t))
    original = main.read_bytes()
    drop = t / "conf.d" / "99-nvidia.toml"
    common = ["--runtime=containerd", f"--config={main}", f"--drop-in-config={drop}", "--restart-mode=none",
              f"--toolkit-install-dir={t}/nv"]
    ctk_ok("install", *common, *install_args(t, f"--nvidia-container-runtime.runtimes={low_level}"),
           "--config-source=file", state=t / "ctk-state")
    tk = t / "nv" / "toolkit"
    driver_loaded(t)
    runtime = f"{tk}/nvidia-container-runtime"
    d = Containerd(t, main, cgroup_v1=low_level == "crun")
    try:
        Probe(d.run_script(runtime, IMAGE, "gpu", ["NVIDIA_VISIBLE_DEVICES=1"], PROBE)
              ).assert_gpu(["nvidia1"])
        Probe(d.run_script(runtime, IMAGE, "plain", [], PROBE)).assert_untouched()
        gpu_spec = d.spec_of(runtime, IMAGE, "gpu-spec", ["NVIDIA_VISIBLE_DEVICES=1"])
        assert gpu_spec["hooks"]["prestart"] == [{"path": f"{tk}/{HOOK}", "args": [HOOK, "prestart"]}]
        assert "hooks" not in d.spec_of(runtime, IMAGE, "plain-spec", [])
        # the low-level runtime is the one configured: its own state directory holds the containers
        d.run(runtime, IMAGE, "which", [], "/bin/busybox", "sleep", "60", detach=True)
        try:
            r = subprocess.run([low_level, "--root", f"{t}/runc-root/{d.ns}", "state", "which"], capture_output=True,
                               text=True, timeout=30)
            assert r.returncode == 0 and json.loads(r.stdout)["status"] == "running", r.stderr
        finally:
            subprocess.run(d.ctr + ["task", "kill", "-s", "KILL", "which"], capture_output=True, timeout=30)
    finally:
        d.stop()
    ctk_ok("uninstall", *common, state=t / "ctk-state")
    assert main.read_bytes() == original
    assert not drop.exists() and not tk.exists()
    # a GPU request now gets no GPU (plain runc through the restored configuration)
    d = Containerd(t, main, import_image=False, cgroup_v1=low_level == "crun", ns=d.ns)   # its image
    try:
        Probe(d.run_script(need(low_level)[low_level], IMAGE, "after", ["NVIDIA_VISIBLE_DEVICES=1"], PROBE)
              ).assert_untouched()
    finally:
        d.stop()


def test_installed_runtime_without_driver_runs_the_low_level_runtime(tmp_path):
    """No NVIDIA module loaded (this machine): the installed runtime runs runc with the spec untouched."""
    t = tmp_path
    main = t / "config.toml"
    main.write_text(CONTAINERD_MAIN.format(t=t))
    ctk_ok("install", "--runtime=containerd", f"--config={main}", f"--drop-in-config={t}/conf.d/99-nvidia.toml",
           "--restart-mode=none", "--config-source=file", *install_args(t), state=t / "ctk-state")
    d = Containerd(t, main)
    try:
        runtime = f"{t}/nv/toolkit/nvidia-container-runtime"
        Probe(d.run_script(runtime, IMAGE, "gpu", ["NVIDIA_VISIBLE_DEVICES=1"], PROBE)).assert_untouched()
        assert "hooks" not in d.spec_of(runtime, IMAGE, "gpu-spec", ["NVIDIA_VISIBLE_DEVICES=1"])
    finally:
        d.stop()


def test_docker_install_injects_gpus_and_gpus_flag_still_works(tmp_path):
    tools = need("dockerd", "docker", "runc", "busybox")
    t = tmp_path
    cfg = t / "daemon.json"
    original = b'{\n  "log-level": "info"\n}\n'
    cfg.write_bytes(original)

    def run(*opts: str) -> Probe:
        r = subprocess.run(docker + ["run", "--rm", "--network=none", *opts, IMAGE, "/bin/sh", "-c", PROBE],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return Probe(r.stdout)

    dockerd = Dockerd(t, "--ip-masq=false", "--config-file", str(cfg))
    sock = dockerd.sock
    docker = [tools["docker"], "-H", dockerd.host]
    try:
        r = subprocess.run(docker + ["import", "-", IMAGE], input=rootfs_tar(make_rootfs(t / "rootfs")),
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        common = ["--runtime=docker", f"--config={cfg}", f"--toolkit-install-dir={t}/nv", "--restart-mode=signal",
                  f"--socket={sock}"]
        ctk_ok("install", *common, *install_args(t), state=t / "ctk-state")
        driver_loaded(t)
        dockerd.wait_for(lambda: dockerd.info().get("DefaultRuntime") == "nvidia", 30, "the reload")
        run("--runtime=nvidia", "-e", "NVIDIA_VISIBLE_DEVICES=1").assert_gpu(["nvidia1"])
        run("--runtime=nvidia").assert_untouched()
        ctk_ok("uninstall", *common, state=t / "ctk-state")
        assert cfg.read_bytes() == original and not (t / "nv" / "toolkit").exists()
    finally:
        dockerd.stop()


def test_docker_gpus_flag_runs_the_installed_hook(tmp_path):
    """``docker run --gpus`` makes dockerd call ``nvidia-container-runtime-hook`` from its PATH: the
    installed toolkit's hook, with the toolkit config found beside it."""
    tools = need("dockerd", "docker", "runc", "busybox")
    t = tmp_path
    cfg = t / "daemon.json"
    cfg.write_text("{}\n")
    ctk_ok("install", "--runtime=docker", f"--config={cfg}", "--restart-mode=none", *install_args(t),
           state=t / "ctk-state")
    env = {"PATH": f"{t}/nv/toolkit:/usr/sbin:/usr/bin:/sbin:/bin"}
    dockerd = Dockerd(t, "--ip-masq=false", "--config-file", str(cfg), env=env)
    docker = [tools["docker"], "-H", dockerd.host]
    try:
        r = subprocess.run(docker + ["import", "-", IMAGE], input=rootfs_tar(make_rootfs(t / "rootfs")),
                           capture_output=True, timeout=60)
        assert r.returncode == 0, r.stderr
        r = subprocess.run(docker + ["run", "--rm", "--network=none", "--gpus", "device=1", IMAGE,
                                     "/bin/sh", "-c", PROBE], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        Probe(r.stdout).assert_gpu(["nvidia1"])
    finally:
        dockerd.stop()
