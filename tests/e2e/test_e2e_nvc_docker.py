"""Docker: a private dockerd (our hook first on its PATH) runs ``docker run --gpus ...`` on an imported busybox."""

from __future__ import annotations

import os
import subprocess

import pytest

from daemons import Dockerd
from nvc_e2e_lib import (Engine, assert_gpu_run, assert_requirement_stopped, assert_untouched_run, hook_wrapper,
                         require)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-nvc-docker")]  # one dockerd (module fixture)
IMAGE = "nvc-e2e-busybox:latest"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class Docker(Engine):
    image = IMAGE

    def __init__(self, tmp):
        require("dockerd", "docker", "containerd", "runc")
        wrapper = hook_wrapper(tmp)
        env = dict(os.environ, PATH=f"{wrapper.parent}:{DEFAULT_PATH}")
        self.dockerd = Dockerd(tmp, "--ip6tables=false", env=env)
        self.argv = ["docker", "-H", self.dockerd.host]
        self.import_rootfs(tmp)

    def run(self, *opts: str) -> subprocess.CompletedProcess:
        return self.run_probe(*opts)

    def close(self) -> None:
        self.dockerd.stop()


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
