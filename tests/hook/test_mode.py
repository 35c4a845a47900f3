"""hook.md §9.4, §11.13: mode resolution and the legacy-mode assertion."""

from __future__ import annotations

import pytest

from hook import mode
from hook.cdi import is_qualified
from hook.errors import CdiNameError
from hook.errors import ModeError
from hook.decide import decide

from hook_testlib import config, dev_mounts, make_spec


class FakePlatform(mode.Platform):
    def __init__(self, nvml=False, tegra=False, nvgpu=False, dxcore=False):
        self.nvml, self.tegra, self.nvgpu, self.dxcore = nvml, tegra, nvgpu, dxcore

    def has_dxcore(self):
        return self.dxcore

    def has_tegra_files(self):
        return self.tegra

    def has_nvml(self):
        return self.nvml

    def has_integrated_gpu(self):
        return self.nvgpu


MR = [
    ("MR01", "not-auto", {}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "not-auto"),
    ("MR02", "legacy", {}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "legacy"),
    ("MR03", "auto", {}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "legacy"),
    ("MR04", "auto", {"nvgpu": True}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "csv"),
    ("MR05", "auto", {"tegra": True}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "csv"),
    ("MR06", "auto", {"tegra": True, "nvgpu": True}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "csv"),
    ("MR07", "auto", {"nvml": True}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "legacy"),
    ("MR08", "auto", {"nvml": True, "nvgpu": True}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "csv"),
    ("MR09", "auto", {"nvml": True, "tegra": True}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "legacy"),
    ("MR10", "auto", {"nvml": True, "tegra": True, "nvgpu": True}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "csv"),
    ("MR11", "auto", {}, ["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=all"], [], "cdi"),
    ("MR12", "auto", {}, ["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=0,nvidia.com/gpu=1"], [], "cdi"),
    ("MR13", "auto", {"nvml": True}, ["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=0,0"], [], "legacy"),
    ("MR14", "auto", {"tegra": True}, ["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=0,0"], [], "csv"),
    ("MR15", "auto", {}, [], ["cdi/nvidia.com/gpu/0"], "cdi"),
    ("MR16", "auto", {"nvml": True}, [], ["cdi/nvidia.com/gpu/0", "all"], "legacy"),
    ("MR17", "auto", {"nvml": True}, ["NVIDIA_VISIBLE_DEVICES=0"], ["cdi/nvidia.com/gpu/0"], "cdi"),
    ("WSL", "auto", {"dxcore": True, "tegra": True, "nvgpu": True}, ["NVIDIA_VISIBLE_DEVICES=0"], [], "legacy"),
]


@pytest.mark.parametrize("case_id,configured,probes,env,mounts,expected", MR, ids=[c[0] for c in MR])
def test_resolve_auto_mode(case_id, configured, probes, env, mounts, expected):
    d = decide(config(accept_volume_mounts=True), make_spec(env, mounts=dev_mounts(*mounts)))
    result = mode.resolve_mode(configured, d.devices, FakePlatform(**probes))
    assert result.mode == expected
    if expected == "legacy":
        mode.check_mode(result)
    else:
        with pytest.raises(ModeError) as exc:
            mode.check_mode(result)
        assert str(exc.value) == mode.REFUSAL


@pytest.mark.parametrize("configured,line", [
    ("legacy", "Using requested mode 'legacy'"), ("", "Using requested mode ''"),
    ("LEGACY", "Using requested mode 'LEGACY'"),
])
def test_announcement(configured, line):
    assert mode.resolve_mode(configured, ("0",), FakePlatform()).announcement == line


def test_none_is_not_all_cdi_B83():
    assert mode.resolve_mode("auto", ("",), FakePlatform()).mode == "legacy"


@pytest.mark.parametrize("name,ok", [
    ("nvidia.com/gpu=0", True), ("nvidia.com/gpu=all", True), ("vendor.com/class=name:x.y", True),
    ("nvidia.com/gpu=", False), ("/nvidia.com/gpu=0", False), ("nvidia.com=0", False), ("0", False),
    ("1a/gpu=0", False), ("ab/gpu=-x", False), ("ab/g_u=x", True), ("ab/gpu/x=0", False), ("ab/cd=e", True),
    ("nvidia.com/gpu=0/1", False),
])
def test_cdi_names(name, ok):
    assert is_qualified(name) is ok


@pytest.mark.parametrize("name", ["a/b=c", "ab/c=d", "a/bb=c"])
def test_one_letter_vendor_or_class_is_a_clean_error_B85(name):
    with pytest.raises(CdiNameError) as exc:
        is_qualified(name)
    assert "runtime error: slice bounds out of range [1:0]" in str(exc.value)


STUB_NVML = r"""
#include <stdlib.h>
#include <string.h>
static const char *names[] = {NAMES};
int nvmlInit_v2(void) { return getenv("STUB_INIT_FAILS") ? 1 : 0; }
int nvmlShutdown(void) { return 0; }
int nvmlDeviceGetCount_v2(unsigned int *n) { *n = sizeof names / sizeof names[0]; return 0; }
int nvmlDeviceGetHandleByIndex_v2(unsigned int i, void **h) { *h = (void *)(names + i); return 0; }
int nvmlDeviceGetName(void *h, char *buf, unsigned int len) {
    const char *name = *(const char **)h;
    if (strlen(name) + 1 > len) return 7;
    strcpy(buf, name);
    return 0;
}
"""


@pytest.mark.parametrize("names, init_fails, integrated", [
    (["NVIDIA H100 80GB HBM3"], False, False),
    (["NVIDIA DGX Display", "NVIDIA Thor"], False, True),
    (["DGX Display", "Orin (nvgpu)"], False, True),
    (["Orin (nvgpu)"], True, False),
])
def test_integrated_gpu_probe_calls_nvml_through_cffi(tmp_path, names, init_fails, integrated):
    """The platform probe of auto mode asks NVML for its devices' names through the cffi binding
    (``hook._nvml_ffi``): no ``ctypes``, no ``os`` (checked -I -S with the hook's import rules)."""
    import subprocess

    import importtime

    src = tmp_path / "nvml.c"
    src.write_text(STUB_NVML.replace("NAMES", ", ".join(f'"{n}"' for n in names)))
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(tmp_path / "libnvidia-ml.so.1"), str(src)], check=True)
    env = {"LD_LIBRARY_PATH": str(tmp_path), **({"STUB_INIT_FAILS": "1"} if init_fails else {})}
    code = "from hook.mode import Platform\np = Platform()\nprint(p.has_nvml(), p.has_integrated_gpu())"
    proc = subprocess.run(importtime.code_command(code), capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == f"True {integrated}\n"
    imported = importtime.imported(proc.stderr)
    assert "hook._nvml_ffi" in imported
    for heavy in ("ctypes", *importtime.OS):
        assert heavy not in imported, heavy
