"""End to end: runc runs a busybox container with the edits of a spec we generate for the fake
driver (device 0 + common edits), so the CDI hooks run as runc runs them (createContainer, the
container's state on stdin, in its mount namespace) on a real rootfs with bind-mounted libraries.
The edits are resolved and applied by the runtime shim's own code (``shim.cdispec``: the spec read
back from a spec folder by the CDI registry, the edits applied to config.json as in ``cdi`` mode)."""

from __future__ import annotations

import json
import os

import oci_bundle
import pytest
from daemons import need

from cdi.generate import Options, generate
from shim import cdispec, ocispec

pytestmark = pytest.mark.e2e

LIBDIR = "/usr/lib/x86_64-linux-gnu"


def test_runc_container_gets_the_devices_libraries_and_hook_effects(tmp_path, driver_root, cdi_hook_bin):
    need("runc")
    spec = generate(Options(mode="nvml", driver_root=str(driver_root), hook_path=str(cdi_hook_bin)))[0]
    script = (f"ls -l /dev/nvidia0 | tr -s ' ' | head -c 10; echo; readlink {LIBDIR}/libcuda.so; "
              f"readlink {LIBDIR}/libcuda.so.1; ldconfig -p | grep -c 'libcuda.so.1 '; "
              "cat /etc/nvidia/nvidia-application-profiles-rc.d/10-container.conf; echo; "
              "echo $NVIDIA_CTK_LIBCUDA_DIR $NVIDIA_VISIBLE_DEVICES; /usr/bin/nvidia-smi; "
              "test -e /dev/nvidia1 || echo no-nvidia1")
    bundle = oci_bundle.runc_bundle(tmp_path / "b", ["sh", "-c", script], ldconfig=True)
    (bundle / "rootfs" / "sbin" / "ldconfig").chmod(0o755)
    spec_dir = tmp_path / "cdi"
    spec_dir.mkdir()
    (spec_dir / "nvidia.json").write_text(json.dumps(spec))
    warnings: list[str] = []
    edits = cdispec.from_spec_dirs([str(spec_dir)], [f"{spec['kind']}=0"], warnings.append)
    assert warnings == []
    tree, style = ocispec.load(str(bundle / "config.json"))
    cdispec.apply(tree, edits)
    ocispec.write(str(bundle / "config.json"), ocispec.dumps(tree, style))
    p = oci_bundle.runc_run(bundle, f"cdi-e2e-{os.getpid()}", root=tmp_path / "runc-root")
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines() == [
        "crw-rw-rw-",
        "libcuda.so.1",
        "libcuda.so.550.54.14",
        "1",
        '{"profiles":[{"name":"_container_","settings":["EGLVisibleDGPUDevices",0x1]}],'
        '"rules":[{"pattern":[],"profile":"_container_"}]}',
        f"{LIBDIR} void",
        "fake nvidia-smi (driver 550.54.14)",
        "no-nvidia1",
    ]
