"""Docker: a private dockerd (our hook first on its PATH) runs ``docker run --gpus ...`` on an imported busybox."""

from __future__ import annotations

import os
import signal
import subprocess
import tarfile
import time

import pytest

from nvc_e2e_lib import PROBE, REQUIRE_MESSAGE, Probe, hook_wrapper, make_rootfs, require

pytestmark = pytest.mark.e2e
IMAGE = "nvc-e2e-busybox:latest"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Docker:
    def __init__(self, tmp):
        require("dockerd", "docker", "containerd", "runc")
        self.tmp = tmp
        self.sock = f"unix://{tmp}/docker.sock"
        wrapper = hook_wrapper(tmp)
        env = dict(os.environ, PATH=f"{wrapper.parent}:{DEFAULT_PATH}")
        self.log = open(tmp / "dockerd.log", "wb")
        self.proc = subprocess.Popen(
            ["dockerd", "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=vfs",
             "--data-root", str(tmp / "data"), "--exec-root", str(tmp / "exec"), "--pidfile", str(tmp / "docker.pid"),
             "-H", self.sock], env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 90
        while subprocess.run(["docker", "-H", self.sock, "info"], capture_output=True).returncode != 0:
            assert self.proc.poll() is None, (tmp / "dockerd.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "dockerd did not come up: " + (tmp / "dockerd.log").read_text()[-3000:]
            time.sleep(0.5)
        rootfs = make_rootfs(tmp / "rootfs")
        with tarfile.open(tmp / "rootfs.tar", "w") as tar:
            tar.add(rootfs, arcname=".")
        self.docker("import", str(tmp / "rootfs.tar"), IMAGE, check=True)

    def docker(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        r = subprocess.run(["docker", "-H", self.sock, *args], capture_output=True, text=True, timeout=180)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def run(self, *opts: str) -> subprocess.CompletedProcess:
        return self.docker("run", "--rm", "--network", "none", *opts, IMAGE, "/bin/sh", "-c", PROBE)

    def close(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def docker(tmp_path_factory):
    d = Docker(tmp_path_factory.mktemp("docker"))
    yield d
    d.close()


@pytest.mark.parametrize("gpus, nodes", [("all", ["nvidia0", "nvidia1"]), ('"device=1"', ["nvidia1"])])
def test_gpus(docker, gpus, nodes):
    r = docker.run("--gpus", gpus)
    assert r.returncode == 0, r.stderr
    Probe(r.stdout).assert_gpu(nodes)


def test_non_gpu_container_untouched(docker):
    r = docker.run()
    assert r.returncode == 0, r.stderr
    Probe(r.stdout).assert_untouched()


def test_failed_requirement_stops_the_container(docker):
    r = docker.run("--gpus", "all", "-e", "NVIDIA_REQUIRE_CUDA=cuda>=13.0")
    assert r.returncode != 0
    assert REQUIRE_MESSAGE in r.stderr
    assert "---" not in r.stdout
