"""End to end: real runc driven through ``nvidia-container-runtime`` in ``cdi`` mode (a spec that our
``nvidia-ctk cdi generate`` wrote for the fake driver into a private spec directory) and in
``jit-cdi`` mode (the same spec generated in memory at ``create``).  The container asks for GPU 1
(``NVIDIA_VISIBLE_DEVICES=1``); it must see ``/dev/nvidia1`` (the device cgroup lets it open the
node: ENXIO, no driver behind it) and not ``/dev/nvidia0`` (EPERM), the driver libraries bind-mounted,
and ``libcuda.so.1`` in ``ldconfig -p`` (our ``update-ldcache`` hook ran).  Nothing is written to
the system's spec directories."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from test_shim_runc_e2e import HOOK, SHIM, run_container

from daemons import need
from nvc_e2e_lib import PROBE, Probe, runc_bundle

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("host-cdi")]  # the system CDI spec directories

VENV_BIN = Path(SHIM).parent
LIBDIR = "/usr/lib/x86_64-linux-gnu"
SYSTEM_SPEC_DIRS = ("/etc/cdi", "/var/run/cdi")
SCRIPT = f"{PROBE}; echo ---; ls {LIBDIR}; echo $NVIDIA_VISIBLE_DEVICES"


def _listing() -> dict[str, list[str] | None]:
    return {d: sorted(os.listdir(d)) if os.path.isdir(d) else None for d in SYSTEM_SPEC_DIRS}


@pytest.fixture
def cdi_node(tmp_path, driver_root):
    assert os.geteuid() == 0, "end-to-end tests need root"
    need("runc")
    assert SHIM.exists() and HOOK.exists(), "run ./build.sh"
    before = _listing()
    specs = tmp_path / "cdi-specs"
    root = tmp_path / "runc-root"

    def configure(mode: str) -> dict:
        config = tmp_path / "config.toml"
        config.write_text(f'[nvidia-container-cli]\nroot = "{driver_root}"\n'
                          f'[nvidia-container-runtime]\nmode = "{mode}"\nruntimes = ["runc"]\n'
                          f'[nvidia-container-runtime.modes.cdi]\nspec-dirs = ["{specs}"]\n'
                          f'[nvidia-ctk]\npath = "{VENV_BIN / "nvidia-ctk"}"\n')
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "NVIDIA_CTK_CONFIG_FILE_PATH": str(config)}
        return {"tmp": tmp_path, "env": env, "root": root}
    yield {"configure": configure, "specs": specs, "driver_root": driver_root}
    for ctr in (root.iterdir() if root.exists() else ()):
        subprocess.run(["runc", "--root", str(root), "delete", "-f", ctr.name], capture_output=True)
    assert _listing() == before, "the tests wrote to the system's CDI spec directories"


def gpu1_bundle(tmp: Path, name: str) -> Path:
    bundle = runc_bundle(tmp, name, ["NVIDIA_VISIBLE_DEVICES=1"], None)
    config = json.loads((bundle / "config.json").read_text())
    config["process"]["args"] = ["/bin/sh", "-c", SCRIPT]
    (bundle / "config.json").write_text(json.dumps(config))
    (bundle / "rootfs" / "sbin" / "ldconfig").chmod(0o755)
    return bundle


def assert_gpu1(output: str) -> None:
    probe_out, _, tail = output.rpartition("---\n")
    probe = Probe(probe_out)
    assert "nvidia1" in probe.nodes and "nvidia0" not in probe.nodes and "nvidiactl" in probe.nodes
    assert probe.allowed() == ["nvidia1"]  # /probe/nvidia1: ENXIO (cgroup allows), /probe/nvidia0: EPERM
    assert all("No such device or address" in line for line in probe.opened), probe.opened
    assert f"libcuda.so.1 (libc6,x86-64) => {LIBDIR}/libcuda.so.1" in probe.ldcache
    libs = tail.split()
    assert {"libcuda.so.550.54.14", "libcuda.so.1", "libnvidia-ml.so.550.54.14"} <= set(libs)
    assert libs[-1] == "void"  # the spec's common env edit


def test_cdi_mode_injects_a_spec_written_by_nvidia_ctk(cdi_node):
    node = cdi_node["configure"]("cdi")
    gen = subprocess.run([str(VENV_BIN / "nvidia-ctk"), "cdi", "generate",
                          "--driver-root", str(cdi_node["driver_root"]),
                          "--nvidia-cdi-hook-path", str(VENV_BIN / "nvidia-cdi-hook"),
                          "--output", str(cdi_node["specs"] / "nvidia.yaml")],
                         env=node["env"], capture_output=True, text=True, timeout=60)
    assert gen.returncode == 0, gen.stderr
    bundle = gpu1_bundle(node["tmp"], "cdi")
    assert_gpu1(run_container(node, bundle, f"shim-cdi-{os.getpid()}"))


def test_jit_cdi_mode_generates_the_spec_at_create(cdi_node):
    node = cdi_node["configure"]("jit-cdi")
    bundle = gpu1_bundle(node["tmp"], "jit")
    assert_gpu1(run_container(node, bundle, f"shim-jit-{os.getpid()}"))
    assert not cdi_node["specs"].exists()  # in memory only
