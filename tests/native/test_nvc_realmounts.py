"""The fake's real system effects, through the injector, without a container runtime.

A "container" is a sleeping process in its own mount namespace with a tmpfs
on <rootfs>/dev, placed in a fresh cgroup v1 device cgroup that denies
everything.  The injector (in a separate, single-threaded Python process)
must bind-mount exactly the selected device nodes and the driver files into
that namespace only, allow the devices in the cgroup (opening one gives
ENXIO, not EPERM) and run ldconfig in the rootfs so that ld.so.cache lists
libcuda.so.1.  Needs root, cgroup v1 devices, unshare/nsenter (util-linux).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from nvc_testlib import FAKE_LIB, REPO, FakeLog, require_build

DEVCG = Path("/sys/fs/cgroup/devices")
INJECT = """
import os, signal, sys
if os.environ.get("TEST_SIGCHLD_IGN"):
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # would make the library's waitpid fail (ECHILD)
from hook.nvc import inject, InjectionError
from hook.plan import GlobalOptions, Plan
plan = Plan(options=GlobalOptions(load_kmods=False), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig",
            no_cgroups=False, devices=tuple(sys.argv[3].split(",")), mig_config="", mig_monitor="",
            imex_channels=(), capabilities=("compute", "utility"), requirements=(), pid=int(sys.argv[1]),
            rootfs=sys.argv[2])
try:
    inject(plan, library_path=sys.argv[4], root="")
except InjectionError as exc:
    print(exc, file=sys.stderr)
    sys.exit(1)
"""


class Container:
    def __init__(self, tmp: Path):
        for tool in ("unshare", "nsenter"):
            assert shutil.which(tool), f"{tool} missing (util-linux)"
        assert os.geteuid() == 0, "these tests need root"
        assert (DEVCG / "devices.allow").exists(), "cgroup v1 devices hierarchy missing at /sys/fs/cgroup/devices"
        self.rootfs = tmp / "rootfs"
        for d in ("etc", "dev", "bin"):
            (self.rootfs / d).mkdir(parents=True)
        self.cgroup = DEVCG / f"nvc-test-{uuid.uuid4().hex[:12]}"
        self.cgroup.mkdir()
        (self.cgroup / "devices.deny").write_text("a")
        ready = tmp / "ready"
        self.proc = subprocess.Popen(
            ["unshare", "-m", "--propagation", "private", "sh", "-c",
             f'echo $$ > {self.cgroup}/cgroup.procs && mount -t tmpfs tmpfs {self.rootfs}/dev && '
             f'touch {ready} && exec sleep 600'])
        for _ in range(200):
            if ready.exists():
                break
            time.sleep(0.02)
        assert ready.exists(), "container process did not start"
        self.pid = self.proc.pid

    def sh(self, script: str) -> subprocess.CompletedProcess:
        """Run script in the container's mount namespace and device cgroup."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-m", "sh", "-c",
                               f"echo $$ > {self.cgroup}/cgroup.procs; {script}"],
                              capture_output=True, text=True, timeout=30)

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for _ in range(100):
            try:
                self.cgroup.rmdir()
                break
            except OSError:
                time.sleep(0.05)


@pytest.fixture
def container(tmp_path):
    require_build()
    c = Container(tmp_path)
    yield c
    c.close()


def inject(container: Container, devices: str, log: Path, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("FAKE_NVC")}
    full.update(FAKE_NVC_LOG=str(log), **env)
    return subprocess.run([sys.executable, "-c", INJECT, str(container.pid), str(container.rootfs), devices,
                           str(FAKE_LIB)], cwd=REPO, env=full, capture_output=True, text=True, timeout=60)


def test_mounts_devices_cgroup_and_ldcache(container, tmp_path):
    log = tmp_path / "nvc.jsonl"
    r = inject(container, "1", log)
    assert r.returncode == 0, r.stderr
    rootfs = container.rootfs
    listing = container.sh(f"ls {rootfs}/dev; ls {rootfs}/usr/lib64 {rootfs}/usr/bin")
    assert listing.stdout.split() == ["nvidia-uvm", "nvidia-uvm-tools", "nvidia1", "nvidiactl",
                                      f"{rootfs}/usr/bin:", "nvidia-smi",
                                      f"{rootfs}/usr/lib64:", "libcuda.so.1", "libcuda.so.550.54.14",
                                      "libnvidia-ml.so.1", "libnvidia-ml.so.550.54.14"]
    assert container.sh(f"stat -c %t:%T {rootfs}/dev/nvidia1 {rootfs}/dev/nvidiactl").stdout.split() == [
        "c3:1", "c3:ff"]
    opened = container.sh(f"cat {rootfs}/dev/nvidia1; cat {rootfs}/dev/nvidiactl")
    assert opened.stderr.count("No such device or address") == 2, opened.stderr
    assert sorted((container.cgroup / "devices.list").read_text().split("\n")) == [
        "", "c 195:1 rw", "c 195:255 rw", "c 510:0 rw", "c 510:1 rw"]
    # The mounts exist only in the container's namespace; ldconfig ran in the rootfs.
    assert not (rootfs / "dev" / "nvidia1").exists()
    assert (rootfs / "usr" / "lib64" / "libcuda.so.550.54.14").stat().st_size == 0
    assert b"libcuda.so.1" in (rootfs / "etc" / "ld.so.cache").read_bytes()
    assert FakeLog(log).summary()["live"] == {"ctx": 0, "cfg": 0, "ccfg": 0, "cnt": 0, "drv": 0, "devinfo": 0}


def test_unselected_device_stays_denied(container, tmp_path):
    assert inject(container, "0", tmp_path / "l").returncode == 0
    r = container.sh(f"ls {container.rootfs}/dev; cat {Path(FAKE_LIB).parent}/driver/dev/nvidia1")
    assert r.stdout.split() == ["nvidia-uvm", "nvidia-uvm-tools", "nvidia0", "nvidiactl"]
    assert "Operation not permitted" in r.stderr


def test_mount_failure_is_one_line(container, tmp_path):
    r = inject(container, "0", tmp_path / "l", FAKE_NVC_DRIVER_ROOT=str(tmp_path / "nonexistent"))
    assert r.returncode == 1
    assert r.stderr == (f"nvidia-container-cli: mount error: stat failed: {tmp_path}/nonexistent/usr/bin/nvidia-smi: "
                        "no such file or directory\n")


def test_dead_container(tmp_path):
    require_build()
    r = subprocess.run([sys.executable, "-c", INJECT, "999999999", str(tmp_path), "0", str(FAKE_LIB)], cwd=REPO,
                       env={**os.environ, "FAKE_NVC_LOG": str(tmp_path / "l")}, capture_output=True, text=True)
    assert (r.returncode, r.stderr) == (
        1, "nvidia-container-cli: container error: stat failed: /proc/999999999: no such file or directory\n")


def test_sigchld_ignored_by_the_caller_is_reset_for_the_library(container, tmp_path):
    log = tmp_path / "l"
    r = inject(container, "0", log, TEST_SIGCHLD_IGN="1")
    assert r.returncode == 0, r.stderr
    assert FakeLog(log).first("nvc_ldcache_update")["args"]["sigchld"] == "default"
    assert b"libcuda.so.1" in (container.rootfs / "etc" / "ld.so.cache").read_bytes()
