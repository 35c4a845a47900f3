"""podman (runc, cgroupfs) with our hook registered through a hooks.d JSON file."""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile

import pytest

from nvc_e2e_lib import HOOK_BIN, PROBE, REQUIRE_ENV, REQUIRE_MESSAGE, Probe, hook_wrapper, make_rootfs, require

pytestmark = pytest.mark.e2e
IMAGE = "localhost/nvc-e2e-busybox:latest"


class Podman:
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
        self.base = ["podman", "--root", str(tmp / "storage"), "--runroot", str(tmp / "run"),
                     "--storage-driver", "vfs"]
        rootfs = make_rootfs(tmp / "rootfs")
        with tarfile.open(tmp / "rootfs.tar", "w") as tar:
            tar.add(rootfs, arcname=".")
        self.podman("import", str(tmp / "rootfs.tar"), IMAGE, check=True)

    def podman(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        r = subprocess.run([*self.base, *args], env=self.env, capture_output=True, text=True, timeout=180)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def run(self, *env: str) -> subprocess.CompletedProcess:
        opts = [a for e in env for a in ("-e", e)]
        return self.podman("run", "--rm", "--network", "none", *opts, IMAGE, "/bin/sh", "-c", PROBE)

    def close(self) -> None:
        self.podman("rm", "-af")
        self.podman("rmi", "-af")
        shutil.rmtree(self.tmp / "storage", ignore_errors=True)  # vfs: plain directories


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    p = Podman(tmp_path_factory.mktemp("podman"))
    yield p
    p.close()


@pytest.mark.parametrize("visible, nodes", [("all", ["nvidia0", "nvidia1"]), ("1", ["nvidia1"])])
def test_gpu_container(podman, visible, nodes):
    r = podman.run(f"NVIDIA_VISIBLE_DEVICES={visible}")
    assert r.returncode == 0, r.stderr
    Probe(r.stdout).assert_gpu(nodes)


def test_non_gpu_container_untouched(podman):
    r = podman.run()
    assert r.returncode == 0, r.stderr
    Probe(r.stdout).assert_untouched()


def test_failed_requirement_stops_the_container(podman):
    r = podman.run(*REQUIRE_ENV)
    assert r.returncode != 0
    assert REQUIRE_MESSAGE in r.stderr
    assert "---" not in r.stdout
