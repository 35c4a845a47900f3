"""Docker: a private dockerd (our hook first on its PATH) runs ``docker run --gpus ...`` on an imported busybox."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from nvc_e2e_lib import (Engine, assert_gpu_run, assert_requirement_stopped, assert_untouched_run, hook_wrapper,
                         require)

pytestmark = pytest.mark.e2e
IMAGE = "nvc-e2e-busybox:latest"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Docker(Engine):
    image = IMAGE

    def __init__(self, tmp):
        require("dockerd", "docker", "containerd", "runc")
        self.tmp = tmp
        self.sock = f"unix://{tmp}/docker.sock"
        self.argv = ["docker", "-H", self.sock]
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
        self.import_rootfs(tmp)

    def run(self, *opts: str) -> subprocess.CompletedProcess:
        return self.run_probe(*opts)

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
    assert_gpu_run(docker.run("--gpus", gpus), nodes)


def test_non_gpu_container_untouched(docker):
    assert_untouched_run(docker.run())


def test_failed_requirement_stops_the_container(docker):
    assert_requirement_stopped(docker.run("--gpus", "all", "-e", "NVIDIA_REQUIRE_CUDA=cuda>=13.0"))
