"""The installer image (deployments/Dockerfile, built FROM scratch from the frozen binary alone by
deployments/build-image.sh with the real dockerd) run as the DaemonSet runs it (host PID namespace,
host paths mounted at their paths, the host's / read-only at /host) against a private containerd:
the toolkit it installs injects GPUs as in test_toolkit_e2e.py; stopping it restores every byte."""

from __future__ import annotations

import os
import subprocess

import pytest

from daemons import CONTAINERD_MAIN, Containerd, Dockerd, need, wait_for
from nvc_e2e_lib import PROBE, Probe, make_rootfs
from oci_bundle import rootfs_tar
from paths import DIST_BIN, ROOT
from toolkit_source import driver_root

pytestmark = pytest.mark.e2e


def test_installer_image_as_the_daemonset_runs_it(tmp_path):
    tools = need("dockerd", "docker", "containerd", "ctr", "runc")
    t = tmp_path
    dockerd = Dockerd(t, "--ip-masq=false")
    docker = [tools["docker"], "-H", dockerd.host]
    try:
        r = subprocess.run([str(ROOT / "deployments" / "build-image.sh"), "local/nvidia-ctk:test", str(DIST_BIN)],
                           env=dict(os.environ, DOCKER=" ".join(docker)), capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        c = t / "ctrd"     # the private containerd's files (stopping it kills what names this dir)
        c.mkdir()
        main = c / "config.toml"
        main.write_text(CONTAINERD_MAIN.format(t=c))
        original = main.read_bytes()
        droot = driver_root(t)
        (t / "modules").write_text("nvidia 56623104 2 nvidia_uvm, Live 0x0\n")
        env = {"RUNTIME": "containerd", "RUNTIME_CONFIG": str(main), "RUNTIME_DROP_IN_CONFIG": f"{c}/conf.d/99-nvidia.toml",
               "RUNTIME_CONFIG_SOURCES": "file", "RUNTIME_RESTART_MODE": "none", "TOOLKIT_INSTALL_DIR": f"{t}/nv",
               "NVIDIA_CTK_STATE_DIR": f"{t}/state", "TOOLKIT_PID_FILE": f"{t}/run/toolkit/toolkit.pid",
               "HOST_ROOT_MOUNT": "/host", "NVIDIA_DRIVER_ROOT": str(droot)}
        r = subprocess.run(docker + ["run", "-d", "--name", "installer", "--pid=host", "--network=none",
                                     "-v", f"{t}:{t}", "-v", "/:/host:ro",
                                     *[f"--env={k}={v}" for k, v in env.items()],
                                     "local/nvidia-ctk:test", "install", "--watch"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        cfg = t / "nv/toolkit/.config/nvidia-container-runtime/config.toml"
        try:
            wait_for(lambda: (c / "conf.d/99-nvidia.toml").exists() and cfg.exists(), 60, "the installer")
        except AssertionError:
            raise AssertionError(subprocess.run(docker + ["logs", "installer"], capture_output=True, text=True).stderr)
        logs = subprocess.run(docker + ["logs", "installer"], capture_output=True, text=True).stderr
        assert f"Found the injection back end: {droot}/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1" in logs
        # the toolkit's config names host paths (the back end found under /host<driver root>)
        text = cfg.read_text()
        assert f'library-path = "{droot}/usr/lib/x86_64-linux-gnu/libnvidia-container.so.1"' in text
        cfg.write_text(text.replace('driver-modules-file = "/proc/modules"', "")
                       .replace("[nvidia-container-runtime]\n", f'[nvidia-container-runtime]\ndriver-modules-file = "{t}/modules"\n', 1))
        d = Containerd(c, main)
        try:
            image = "local/probe:1"
            d.import_image(rootfs_tar(make_rootfs(c / "rootfs")), image)
            runtime = f"{t}/nv/toolkit/nvidia-container-runtime"
            Probe(d.run_script(runtime, image, "gpu", ["NVIDIA_VISIBLE_DEVICES=1"], PROBE)
                  ).assert_gpu(["nvidia1"])
            Probe(d.run_script(runtime, image, "plain", [], PROBE)).assert_untouched()
            assert "hooks" not in d.spec_of(runtime, image, "plain-spec", [])
        finally:
            d.stop()
        r = subprocess.run(docker + ["stop", "-t", "60", "installer"], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        assert main.read_bytes() == original
        assert not (c / "conf.d/99-nvidia.toml").exists() and not (t / "nv/toolkit").exists()
    finally:
        subprocess.run(docker + ["rm", "-f", "installer"], capture_output=True, timeout=60)
        dockerd.stop()
