"""runc with our hook (library injector, fake libnvidia-container) in hooks.prestart of a busybox bundle."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from nvc_e2e_lib import REQUIRE_ENV, REQUIRE_MESSAGE, Probe, hook_wrapper, require, runc_bundle

pytestmark = pytest.mark.e2e


def runc(tmp_path, env, hook=True) -> subprocess.CompletedProcess:
    require("runc")
    wrapper = hook_wrapper(tmp_path) if hook else None
    bundle = runc_bundle(tmp_path, f"b{uuid.uuid4().hex[:6]}", env, wrapper)
    cid = f"nvc-e2e-{uuid.uuid4().hex[:10]}"
    state = tmp_path / "runc-state"
    try:
        return subprocess.run(["runc", "--root", str(state), "run", "-b", str(bundle), cid],
                              capture_output=True, text=True, timeout=120)
    finally:
        subprocess.run(["runc", "--root", str(state), "delete", "-f", cid], capture_output=True)


@pytest.mark.parametrize("visible, gpus", [("all", ["nvidia0", "nvidia1"]), ("1", ["nvidia1"]),
                                           ("GPU-00000000-0000-0000-0000-000000000000", ["nvidia0"])])
def test_gpu_container(tmp_path, visible, gpus):
    r = runc(tmp_path, [f"NVIDIA_VISIBLE_DEVICES={visible}", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"])
    assert r.returncode == 0, r.stderr
    Probe(r.stdout).assert_gpu(gpus)


def test_non_gpu_container_untouched(tmp_path):
    r = runc(tmp_path, [])
    assert r.returncode == 0, r.stderr
    Probe(r.stdout).assert_untouched()
    assert not (tmp_path / "nvc.jsonl").exists()


def test_failed_requirement_stops_the_container(tmp_path):
    r = runc(tmp_path, REQUIRE_ENV)
    assert r.returncode != 0
    assert REQUIRE_MESSAGE in r.stderr
    assert "---" not in r.stdout
