"""podman (runc, cgroupfs) with our hook registered through a hooks.d JSON file."""

from __future__ import annotations

import subprocess

import pytest

from nvc_e2e_lib import (HOOK_BIN, REQUIRE_ENV, Podman, assert_gpu_run, assert_requirement_stopped,
                         assert_untouched_run, hook_wrapper, require)

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("e2e-nvc-podman")]  # one podman store (module fixture)


class HookedPodman(Podman):
    """podman with our hook registered in its hooks.d (the library injector, the fake)."""

    def __init__(self, tmp):
        require("podman", "runc")
        hooks = tmp / "hooks.d"
        hooks.mkdir()
        out = subprocess.run([str(HOOK_BIN), "hooks-json", "--hook-path", str(hook_wrapper(tmp))], capture_output=True,
                             text=True, check=True).stdout
        (hooks / "oci-nvidia-hook.json").write_text(out)
        super().__init__(tmp, hooks)

    def run(self, *env: str) -> subprocess.CompletedProcess:
        return self.run_probe(*[a for e in env for a in ("-e", e)])


@pytest.fixture(scope="module")
def podman(tmp_path_factory):
    p = HookedPodman(tmp_path_factory.mktemp("podman"))
    yield p
    p.close()


@pytest.mark.parametrize("visible, nodes", [("all", ["nvidia0", "nvidia1"]), ("1", ["nvidia1"])])
def test_gpu_container(podman, visible, nodes):
    assert_gpu_run(podman.run(f"NVIDIA_VISIBLE_DEVICES={visible}"), nodes)


def test_non_gpu_container_untouched(podman):
    assert_untouched_run(podman.run())


def test_failed_requirement_stops_the_container(podman):
    assert_requirement_stopped(podman.run(*REQUIRE_ENV))
