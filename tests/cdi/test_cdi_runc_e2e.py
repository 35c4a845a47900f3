"""End to end: runc runs a busybox container with the edits of a spec we generate for the fake
driver (device 0 + common edits), so the CDI hooks run as runc runs them (createContainer, the
container's state on stdin, in its mount namespace) on a real rootfs with bind-mounted libraries."""

from __future__ import annotations

import json
import os

import oci_bundle
import pytest
from daemons import need

from cdi.generate import Options, generate

pytestmark = pytest.mark.e2e

LIBDIR = "/usr/lib/x86_64-linux-gnu"


def apply_edits(config: dict, edits: dict) -> None:
    """The subset of a CDI engine's "inject devices" the generated spec uses (spec section 7)."""
    proc = config["process"]
    proc["env"] += edits.get("env", [])
    for n in edits.get("deviceNodes", []):
        dev = {"path": n["path"], "type": "c", "major": n.get("major", 0), "minor": n.get("minor", 0),
               "fileMode": n.get("fileMode", 0o666), "uid": 0, "gid": 0}
        config["linux"].setdefault("devices", []).append(dev)
        config["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": dev["major"],
                                                        "minor": dev["minor"], "access": "rwm"})
    for m in edits.get("mounts", []):
        config["mounts"].append({"destination": m["containerPath"], "source": m["hostPath"], "type": "bind",
                                 "options": m["options"]})
    for h in edits.get("hooks", []):
        config.setdefault("hooks", {}).setdefault(h["hookName"], []).append(
            {"path": h["path"], "args": h["args"], "env": h["env"]})


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
    config = json.loads((bundle / "config.json").read_text())
    apply_edits(config, spec["containerEdits"])
    apply_edits(config, next(d for d in spec["devices"] if d["name"] == "0")["containerEdits"])
    (bundle / "config.json").write_text(json.dumps(config))
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
