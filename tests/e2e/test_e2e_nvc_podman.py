"""podman (runc, cgroupfs) with our hook registered through a hooks.d JSON file."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from daemons import discard, short_dir
from nvc_e2e_lib import (HOOK_BIN, REQUIRE_ENV, Engine, assert_gpu_run, assert_requirement_stopped,
                         assert_untouched_run, hook_wrapper, require)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-nvc-podman")]  # one podman store (module fixture)
IMAGE = "localhost/nvc-e2e-busybox:latest"


class Podman(Engine):
    image = IMAGE

    def __init__(self, tmp):
        require("podman", "runc")
        self.tmp = tmp
        wrapper = hook_wrapper(tmp)
        hooks = tmp / "hooks.d"
        hooks.mkdir()
        out = subprocess.run([str(HOOK_BIN), "hooks-json", "--hook-path", str(wrapper)], capture_output=True,
                             text=True, check=True).stdout
        (hooks / "oci-nvidia-hook.json").write_text(out)
        conf = tmp / "containers.conf"
        conf.write_text(
            "[containers]\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{tmp}/events.log"\n'
            'runtime = "runc"\n'
            f'hooks_dir = ["{hooks}"]\n'
            f'tmp_dir = "{tmp}/tmp"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf))
        self.runroot = short_dir("nvcpm")   # podman: runroot < 50 characters
        self.argv = ["podman", "--root", str(tmp / "storage"), "--runroot", str(self.runroot),
                     "--storage-driver", "vfs"]
        self.import_rootfs(tmp)

    def run(self, *env: str) -> subprocess.CompletedProcess:
        return self.run_probe(*[a for e in env for a in ("-e", e)])

    def close(self) -> None:
        self.cli("rm", "-af")
        self.cli("rmi", "-af")
        shutil.rmtree(self.tmp / "storage", ignore_errors=True)  # vfs: plain directories
        discard(self.runroot)


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    p = Podman(tmp_path_factory.mktemp("podman"))
    yield p
    p.close()


@pytest.mark.parametrize("visible, nodes", [("all", ["nvidia0", "nvidia1"]), ("1", ["nvidia1"])])
def test_gpu_container(podman, visible, nodes):
    assert_gpu_run(podman.run(f"NVIDIA_VISIBLE_DEVICES={visible}"), nodes)


def test_non_gpu_container_untouched(podman):
    assert_untouched_run(podman.run())


def test_failed_requirement_stops_the_container(podman):
    assert_requirement_stopped(podman.run(*REQUIRE_ENV))
