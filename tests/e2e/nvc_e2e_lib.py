"""Helpers of the end-to-end tests: a busybox rootfs, our hook (library injector + fake), the in-container probe.

The rootfs and bundles are ``oci_bundle``'s (``tests/oci_bundle.py``) with the probe nodes added.

Missing tools (runc, crun, docker, podman, busybox-static, util-linux) make the tests fail, never skip:
install them with ``./build.sh deps``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import oci_bundle
from daemons import discard, need, short_dir
from paths import FAKE_LIB, HOOK_BIN

# Runs inside the container: /dev listing, opening every NVIDIA node, the ld cache, then opening the
# probe nodes /probe/nvidia0 and /probe/nvidia1 (c 195 0/1, made in the rootfs): the device cgroup decides.
PROBE = ('ls /dev; echo ---; for d in /dev/nvidia*; do [ -e "$d" ] && cat "$d"; done 2>&1; echo ---; ldconfig -p; '
         'echo ---; cat /probe/nvidia0 2>&1; cat /probe/nvidia1 2>&1; true')
ENXIO = "No such device or address"
EPERM = "Operation not permitted"


def require(*tools: str) -> None:
    """Fail (not skip) when a tool the test drives is missing."""
    need(*tools)
    assert os.geteuid() == 0, "end-to-end tests need root"
    for p in (HOOK_BIN, FAKE_LIB):
        assert p.exists(), f"{p} missing: run ./build.sh"


def add_probe_nodes(rootfs: Path) -> Path:
    """The probe nodes /probe/nvidia0 and /probe/nvidia1 (c 195 0/1) in ``rootfs``."""
    (rootfs / "probe").mkdir()
    for minor in (0, 1):
        os.mknod(rootfs / "probe" / f"nvidia{minor}", 0o20666, os.makedev(195, minor))
    return rootfs


def make_rootfs(path: Path) -> Path:
    """A busybox rootfs with Debian's static ldconfig (``oci_bundle.make_rootfs(path, ldconfig=True)``,
    so ``ldconfig -p`` works inside) and the probe nodes."""
    return add_probe_nodes(oci_bundle.make_rootfs(path, ldconfig=True))


def rootfs_tar(tmp: Path) -> Path:
    """``make_rootfs(tmp / "rootfs")`` packed as ``tmp / "rootfs.tar"`` (for ``docker/podman import``)."""
    tar_path = tmp / "rootfs.tar"
    tar_path.write_bytes(oci_bundle.rootfs_tar(make_rootfs(tmp / "rootfs")))
    return tar_path


def hook_wrapper(tmp: Path, name: str = "nvidia-container-runtime-hook") -> Path:
    """A wrapper that runs our hook with a config selecting the library injector and the fake.

    Runtimes start hooks with the hook entry's environment only (often empty), so the wrapper
    passes nothing but FAKE_NVC_LOG: the hook must cope without PATH.
    """
    cfg = tmp / "hook-config.toml"
    cfg.write_text(f'[nvidia-container-runtime-hook]\ninjector = "library"\nlibrary-path = "{FAKE_LIB}"\n')
    bindir = tmp / "hookbin"
    bindir.mkdir(exist_ok=True)
    wrapper = bindir / name
    wrapper.write_text(f"#!/bin/sh\nexport FAKE_NVC_LOG={tmp}/nvc.jsonl\nexec {HOOK_BIN} -config {cfg} \"$@\"\n")
    wrapper.chmod(0o755)
    return wrapper


def runc_bundle(tmp: Path, name: str, env: list[str], hook: Path | None,
                annotations: dict[str, str] | None = None) -> Path:
    """An OCI bundle ``tmp / name`` (``oci_bundle.runc_bundle``, the rootfs of ``make_rootfs``) running PROBE,
    with our hook (``hook prestart``, no "env") in hooks.prestart."""
    bundle = oci_bundle.runc_bundle(tmp / name, ["/bin/sh", "-c", PROBE], env,
                                    hook=None if hook is None else [str(hook), hook.name, "prestart"],
                                    annotations=annotations, ldconfig=True)
    add_probe_nodes(bundle / "rootfs")
    return bundle


@contextlib.contextmanager
def container_id(runtime: str, state: Path) -> Iterator[str]:
    """A fresh container id for ``runtime --root state`` (runc, crun), force-deleted afterwards."""
    cid = f"nvc-e2e-{uuid.uuid4().hex[:10]}"
    try:
        yield cid
    finally:
        subprocess.run([runtime, "--root", str(state), "delete", "-f", cid], capture_output=True)


class Engine:
    """A container engine CLI (docker, podman): ``argv`` + args, run with ``env``, tests use ``image``."""

    argv: list[str]
    env: dict[str, str] | None = None
    image: str

    def cli(self, *args: str, check: bool = False) -> subprocess.CompletedProcess:
        r = subprocess.run([*self.argv, *args], env=self.env, capture_output=True, text=True, timeout=180)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def import_rootfs(self, tmp: Path) -> None:
        """Imports the busybox rootfs (``rootfs_tar``) as ``image``."""
        self.cli("import", str(rootfs_tar(tmp)), self.image, check=True)

    def run_probe(self, *opts: str) -> subprocess.CompletedProcess:
        """``run --rm --network none OPTS image`` of PROBE."""
        return self.cli("run", "--rm", "--network", "none", *opts, self.image, "/bin/sh", "-c", PROBE)


class Podman(Engine):
    """podman 4.3 as the tests run it: runc, cgroupfs, the file events logger, fixed ulimits, vfs storage and
    every root under ``tmp``; ``hooks_dir`` is its only hooks.d (none: no OCI hooks at all)."""

    image = "localhost/nvc-e2e-busybox:latest"

    def __init__(self, tmp: Path, hooks_dir: Path | None = None):
        require("podman", "runc")
        self.tmp = tmp
        if hooks_dir is None:
            hooks_dir = tmp / "no-hooks.d"
            hooks_dir.mkdir()
        conf = tmp / "containers.conf"
        conf.write_text(
            "[containers]\n"
            'default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
            "[engine]\n"
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{tmp}/events.log"\n'
            'runtime = "runc"\n'
            f'hooks_dir = ["{hooks_dir}"]\n'
            f'tmp_dir = "{tmp}/tmp"\n')
        self.env = dict(os.environ, CONTAINERS_CONF=str(conf))
        self.runroot = short_dir("nvcpm")   # podman: runroot < 50 characters
        self.argv = ["podman", "--root", str(tmp / "storage"), "--runroot", str(self.runroot),
                     "--storage-driver", "vfs"]
        try:
            self.import_rootfs(tmp)
        except BaseException:
            discard(self.runroot)
            raise

    def close(self) -> None:
        self.cli("rm", "-af")
        self.cli("rmi", "-af")
        shutil.rmtree(self.tmp / "storage", ignore_errors=True)  # vfs: plain directories
        discard(self.runroot)


class Probe:
    """The probe's output: NVIDIA device names, what opening each printed, the ld cache listing."""

    def __init__(self, out: str):
        parts = out.split("---\n")
        assert len(parts) == 4, f"unexpected probe output: {out!r}"
        self.nodes = sorted(n for n in parts[0].split() if n.startswith("nvidia"))
        self.opened = parts[1].strip().splitlines()
        self.ldcache = parts[2]
        self.cgroup = parts[3].strip().splitlines()  # opening /probe/nvidia0, /probe/nvidia1

    def allowed(self) -> list[str]:
        """Which of nvidia0/nvidia1 the device cgroup lets the container open."""
        assert len(self.cgroup) == 2 and all(ENXIO in line or EPERM in line for line in self.cgroup), self.cgroup
        return [f"nvidia{i}" for i, line in enumerate(self.cgroup) if ENXIO in line]

    def assert_gpu(self, gpus: list[str]) -> None:
        """Exactly ``gpus`` (e.g. ["nvidia1"]) + nvidiactl + uvm nodes, all allowed (ENXIO), libcuda in the cache."""
        assert self.nodes == sorted(gpus + ["nvidia-uvm", "nvidia-uvm-tools", "nvidiactl"])
        assert len(self.opened) == len(self.nodes)
        assert all(ENXIO in line for line in self.opened), self.opened
        assert "libcuda.so.1 (libc6,x86-64) => /usr/lib64/libcuda.so.1" in self.ldcache
        assert "libnvidia-ml.so.1 (libc6,x86-64) => /usr/lib64/libnvidia-ml.so.1" in self.ldcache
        assert self.allowed() == sorted(gpus)

    def assert_untouched(self) -> None:
        assert self.nodes == [] and self.opened == []
        assert "libcuda" not in self.ldcache
        assert self.allowed() == []


REQUIRE_ENV = ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_REQUIRE_CUDA=cuda>=13.0"]
REQUIRE_MESSAGE = ("nvidia-container-cli: requirement error: unsatisfied condition: cuda>=13.0 (found cuda=12.4), "
                   "please update your driver to a newer version, or use an earlier cuda container")


def assert_gpu_run(r: subprocess.CompletedProcess, gpus: list[str]) -> None:
    """The container ran and the probe saw exactly ``gpus`` (``Probe.assert_gpu``)."""
    assert r.returncode == 0, r.stderr
    Probe(r.stdout).assert_gpu(gpus)


def assert_untouched_run(r: subprocess.CompletedProcess) -> None:
    """The container ran and the probe saw no NVIDIA device or library (``Probe.assert_untouched``)."""
    assert r.returncode == 0, r.stderr
    Probe(r.stdout).assert_untouched()


def assert_requirement_stopped(r: subprocess.CompletedProcess, hook_stderr: str | None = None) -> None:
    """REQUIRE_ENV's failed requirement stopped the container before the probe ran; the hook's message is
    in ``hook_stderr`` (where the runtime put the hook's stderr), by default the runtime's own stderr."""
    assert r.returncode != 0
    assert REQUIRE_MESSAGE in (r.stderr if hook_stderr is None else hook_stderr)
    assert "---" not in r.stdout
