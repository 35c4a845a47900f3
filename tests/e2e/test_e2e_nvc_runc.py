"""runc with our hook (library injector, fake libnvidia-container) in hooks.prestart of a busybox bundle."""

from __future__ import annotations

import subprocess
import uuid

import pytest

from nvc_e2e_lib import (REQUIRE_ENV, assert_gpu_run, assert_requirement_stopped, assert_untouched_run, hook_wrapper,
                         require, runc_bundle)
from oci_bundle import runc_run

pytestmark = pytest.mark.e2e


def runc(tmp_path, env, hook=True) -> subprocess.CompletedProcess:
    require("runc")
    wrapper = hook_wrapper(tmp_path) if hook else None
    bundle = runc_bundle(tmp_path, f"b{uuid.uuid4().hex[:6]}", env, wrapper)
    return runc_run(bundle, f"nvc-e2e-{uuid.uuid4().hex[:10]}", timeout=120, root=tmp_path / "runc-state")


@pytest.mark.parametrize("visible, gpus", [("all", ["nvidia0", "nvidia1"]), ("1", ["nvidia1"]),
                                           ("GPU-00000000-0000-0000-0000-000000000000", ["nvidia0"])])
def test_gpu_container(tmp_path, visible, gpus):
    env = [f"NVIDIA_VISIBLE_DEVICES={visible}", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"]
    assert_gpu_run(runc(tmp_path, env), gpus)


def test_non_gpu_container_untouched(tmp_path):
    assert_untouched_run(runc(tmp_path, []))
    assert not (tmp_path / "nvc.jsonl").exists()


def test_failed_requirement_stops_the_container(tmp_path):
    assert_requirement_stopped(runc(tmp_path, REQUIRE_ENV))
