"""crun with our hook in hooks.prestart, run with the cgroup v2 mount hidden so it uses cgroup v1 devices.

As the issue prescribes: ``unshare -m --propagation private sh -c 'umount /sys/fs/cgroup/unified && crun run ID'``.
"""

from __future__ import annotations

import shlex
import subprocess
import uuid

import pytest

from nvc_e2e_lib import (REQUIRE_ENV, assert_gpu_run, assert_requirement_stopped, assert_untouched_run, container_id,
                         hook_wrapper, require, runc_bundle)

pytestmark = pytest.mark.e2e


def crun(tmp_path, env) -> subprocess.CompletedProcess:
    require("crun", "runc", "unshare")
    # crun does not copy a hook's stderr into its own error; it writes it where this annotation says.
    bundle = runc_bundle(tmp_path, f"b{uuid.uuid4().hex[:6]}", env, hook_wrapper(tmp_path),
                         {"run.oci.hooks.stderr": str(tmp_path / "hooks.stderr")})
    state = tmp_path / "crun-state"
    with container_id("crun", state) as cid:
        run = f"umount /sys/fs/cgroup/unified && crun --root {shlex.quote(str(state))} run {cid}"
        return subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c", run], cwd=bundle,
                              capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("visible, gpus", [("all", ["nvidia0", "nvidia1"]), ("1", ["nvidia1"])])
def test_gpu_container(tmp_path, visible, gpus):
    assert_gpu_run(crun(tmp_path, [f"NVIDIA_VISIBLE_DEVICES={visible}"]), gpus)


def test_non_gpu_container_untouched(tmp_path):
    assert_untouched_run(crun(tmp_path, []))


def test_failed_requirement_stops_the_container(tmp_path):
    r = crun(tmp_path, REQUIRE_ENV)
    assert "nvidia-container-runtime-hook` (exit code: 1)" in r.stderr
    assert_requirement_stopped(r, (tmp_path / "hooks.stderr").read_text())
