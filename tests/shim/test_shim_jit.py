"""The runtime's jit-cdi mode (cdi.md §6.3, runtime.md §11.1): requests → generator runs (pure),
then the in-memory spec of the fake driver (spec_fixtures/fake-driver) applied to the OCI spec,
the failure texts, and what a jit-cdi create imports."""

from __future__ import annotations

import json
import os

import classes
import pytest
from importtime import OS, imported
from test_shim_process import HEAVY, recorded, run_shim, setup_dir, spec
from test_shim_units import Log, gpu_spec, plain

from hook.config import HookConfig
from shim import jitcdi, modify
from shim.errors import ApplyError

CTK = "/opt/bin/nvidia-ctk"
LIBDIR = "/usr/lib/x86_64-linux-gnu"


@pytest.mark.parametrize("names, env, imex, want", [
    (["runtime.nvidia.com/gpu=0", "runtime.nvidia.com/gpu=1"], {}, [], [("auto", ("0", "1"))]),
    (["runtime.nvidia.com/gpu=all"], {}, [], [("auto", ("all",))]),
    (["runtime.nvidia.com/gpu=0"], {"NVIDIA_GDS": "enabled", "NVIDIA_MOFED": "true", "NVIDIA_NVSWITCH": "enabled"},
     ["1", "0"], [("auto", ("0",)), ("gds", ()), ("nvswitch", ()), ("imex", ("1", "0"))]),
    (["runtime.nvidia.com/gpu=mode=gdrcopy", "runtime.nvidia.com/gpu=mode=imex,id=3", "runtime.nvidia.com/gpu=GPU-a"],
     {"NVIDIA_GDRCOPY": "enabled"}, ["3"], [("gdrcopy", ()), ("imex", ("3",)), ("auto", ("GPU-a",))]),
])
def test_requests_are_grouped_by_mode_in_first_seen_order(names, env, imex, want):
    assert jitcdi.requests(names, env, imex) == [jitcdi.Request(m, ids) for m, ids in want]


def jit_ctx(driver_root, **config):
    c = HookConfig(cli_root=str(driver_root), **config)
    return modify.Context(c, Log(), "/usr/bin/nvidia-container-runtime-hook", CTK)


def run_jit(t, c, mode="jit-cdi"):
    resolved = modify.resolve_mode(mode, t, c)
    return [m(t) for m in modify.modifiers(resolved, t, c)]


def test_jit_cdi_injects_the_generated_device_and_common_edits(driver_root):
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=1"], hooks={"prestart": [{"path": "/usr/bin/nvidia-container-runtime-hook"}]})
    c = jit_ctx(driver_root)
    assert run_jit(t, c) == [True, True]
    p = plain(t)
    assert [(d["path"], d["type"], d["major"], d["minor"]) for d in p["linux"]["devices"]] == [
        ("/dev/nvidia1", "c", 195, 1), ("/dev/nvidia-modeset", "c", 195, 254), ("/dev/nvidia-uvm", "c", 511, 0),
        ("/dev/nvidia-uvm-tools", "c", 511, 1), ("/dev/nvidiactl", "c", 195, 255)]
    assert [(r["major"], r["minor"]) for r in p["linux"]["resources"]["devices"]] == [
        (195, 1), (195, 254), (511, 0), (511, 1), (195, 255)]
    assert p["process"]["env"] == ["NVIDIA_VISIBLE_DEVICES=1", f"NVIDIA_CTK_LIBCUDA_DIR={LIBDIR}",
                                   "NVIDIA_VISIBLE_DEVICES=void"]
    mounts = {m["destination"]: m["source"] for m in p["mounts"]}
    assert mounts[f"{LIBDIR}/libcuda.so.550.54.14"] == f"{driver_root}{LIBDIR}/libcuda.so.550.54.14"
    hooks = p["hooks"]
    assert "prestart" not in hooks or hooks["prestart"] == []
    ldcache = [h for h in hooks["createContainer"] if "update-ldcache" in h["args"]]
    assert ldcache == [{"path": CTK, "args": ["nvidia-ctk", "hook", "update-ldcache", "--folder", LIBDIR,
                                              "--folder", f"{LIBDIR}/vdpau"], "env": ["NVIDIA_CTK_DEBUG=false"]}]
    assert ("info", "Auto-detected mode as 'nvml'") in c.log.lines
    assert ("info", "Generated CDI spec for mode 'auto': devices runtime.nvidia.com/gpu=1") in c.log.lines


def test_auto_mode_resolves_to_jit_cdi_and_generates_every_gpu(driver_root):
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=all"])
    c = jit_ctx(driver_root)
    run_jit(t, c, "auto")
    assert ("info", "Auto-detected mode as 'jit-cdi'") in c.log.lines
    nodes = [d["path"] for d in plain(t)["linux"]["devices"]]
    assert nodes[:2] == ["/dev/nvidia0", "/dev/nvidia1"] and "/dev/nvidiactl" in nodes


def test_feature_requests_bring_their_device_nodes(driver_root):
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_GDRCOPY=enabled"])
    run_jit(t, jit_ctx(driver_root))
    nodes = [d["path"] for d in plain(t)["linux"]["devices"]]
    assert nodes[0] == "/dev/nvidia0" and nodes[-1] == "/dev/gdrdrv" and "/dev/nvidia1" not in nodes


def test_disabled_hooks_and_feature_flags_come_from_the_config(driver_root):
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"])
    run_jit(t, jit_ctx(driver_root, jit_disable_hooks=("all",), no_additional_gids_for_device_nodes=True))
    assert "hooks" not in plain(t) or not plain(t)["hooks"].get("createContainer")


def test_no_request_generates_nothing(driver_root):
    t = gpu_spec(["PATH=/bin"])
    c = jit_ctx(driver_root)
    assert run_jit(t, c) == [False]


@pytest.mark.parametrize("env, detail", [
    ("NVIDIA_VISIBLE_DEVICES=7", 'for mode "auto": failed to get device handle from index: Invalid Argument'),
    ("NVIDIA_VISIBLE_DEVICES=x", 'for mode "auto": identifier is not a valid UUID or index: "x"'),
])
def test_generator_errors_are_one_line(driver_root, env, detail):
    t = gpu_spec([env])
    with pytest.raises(ApplyError) as exc:
        run_jit(t, jit_ctx(driver_root))
    assert str(exc.value) == ("could not apply required modification to OCI specification: error modifying OCI "
                              "spec: failed to create the automatic CDI modifier: failed to generate CDI spec "
                              + detail)


def test_without_nvml_the_error_is_upstreams(tmp_path):
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"])
    with pytest.raises(ApplyError) as exc:
        run_jit(t, jit_ctx(tmp_path))
    assert str(exc.value).endswith('failed to generate CDI spec for mode "auto": failed to construct device spec '
                                   "generators: failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND")


GENERATOR = ("cdi.generate", "cdi.nvml", "cdi.discover", "hook._nvml_ffi", "_cffi_backend", "shim.jitcdi")


def test_non_gpu_jit_cdi_create_imports_no_generator(tmp_path, driver_root):
    env = setup_dir(tmp_path, f'[nvidia-container-cli]\nroot = "{driver_root}"\n'
                              '[nvidia-container-runtime]\nmode = "jit-cdi"\n', spec(["PATH=/bin"]))
    proc = run_shim(tmp_path, env, "create", "--bundle", str(tmp_path / "bundle"), "ctr", importtime=True)
    assert proc.returncode == 7, proc.stderr
    mods = imported(proc.stderr)
    assert "shim.modify" in mods
    for name in (*HEAVY, *GENERATOR, *OS):
        assert name not in mods, name


def test_gpu_jit_cdi_create_generates_and_runs_the_runtime(tmp_path, driver_root):
    env = setup_dir(tmp_path, f'[nvidia-container-cli]\nroot = "{driver_root}"\n'
                              '[nvidia-container-runtime]\nmode = "jit-cdi"\n', spec(["NVIDIA_VISIBLE_DEVICES=1"]))
    proc = run_shim(tmp_path, env, "create", "--bundle", str(tmp_path / "bundle"), "ctr", importtime=True)
    assert proc.returncode == 7, proc.stderr
    mods = imported(proc.stderr)
    assert {"shim.jitcdi", "cdi.generate", "hook._nvml_ffi"} <= mods  # the guard above can fail
    for name in (*OS, "struct"):  # the generator reads the driver root through hook.oslite, ld.so.cache and
        assert name not in mods, name  # ELF headers without struct (an extension module loaded from memory)
    assert recorded(tmp_path)[1:] == ["create", "--bundle", str(tmp_path / "bundle"), "ctr"]
    written = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert [d["path"] for d in written["linux"]["devices"]][0] == "/dev/nvidia1"
    (tmp_path / "bundle" / "config.json").write_text(json.dumps(spec(["NVIDIA_VISIBLE_DEVICES=1"])))
    proc = run_shim(tmp_path, env, "create", "ctr", classes=True)
    assert proc.returncode == 7 and classes.created(proc.stderr) == []  # no exception class created either


def test_gpu_jit_cdi_create_fails_in_one_line_and_leaves_the_spec(tmp_path, driver_root):
    env = setup_dir(tmp_path, f'[nvidia-container-cli]\nroot = "{driver_root}"\n'
                              '[nvidia-container-runtime]\nmode = "jit-cdi"\n', spec(["NVIDIA_VISIBLE_DEVICES=9"]))
    before = (tmp_path / "bundle" / "config.json").read_bytes()
    proc = run_shim(tmp_path, env, "create", "--bundle", str(tmp_path / "bundle"), "ctr")
    assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
    assert "failed to get device handle from index: Invalid Argument" in proc.stderr
    assert "Traceback" not in proc.stderr and not (tmp_path / "bin" / "argv.txt").exists()
    assert (tmp_path / "bundle" / "config.json").read_bytes() == before


@pytest.mark.parametrize("ext", ["json", "yaml"])
def test_cdi_create_with_generated_specs_imports_no_yaml_json_or_re(tmp_path, ext):
    """cdi mode reads JSON specs through cdi.registry with the C scanner, and the generators' YAML with
    cdi.miniyaml: no PyYAML, json or re."""
    from cdi.spec import to_yaml

    env = setup_dir(tmp_path, f'[nvidia-container-runtime]\nmode = "cdi"\n'
                              f'[nvidia-container-runtime.modes.cdi]\nspec-dirs = ["{tmp_path}/cdi"]\n',
                    spec(["NVIDIA_VISIBLE_DEVICES=0"]))
    (tmp_path / "cdi").mkdir()
    gpu = {"cdiVersion": "0.5.0", "kind": "nvidia.com/gpu",
           "devices": [{"name": "0", "containerEdits": {"env": ["GPU=0"]}}]}
    (tmp_path / "cdi" / f"gpu.{ext}").write_text(json.dumps(gpu) if ext == "json" else to_yaml(gpu))
    proc = run_shim(tmp_path, env, "create", "--bundle", str(tmp_path / "bundle"), "ctr", importtime=True)
    assert proc.returncode == 7, proc.stderr
    mods = imported(proc.stderr)
    assert {"cdi.registry", "hook.atomicfile"} <= mods
    for name in (*HEAVY, *GENERATOR, *OS):
        assert name not in mods, name
    written = json.loads((tmp_path / "bundle" / "config.json").read_text())
    assert written["process"]["env"] == ["NVIDIA_VISIBLE_DEVICES=0", "GPU=0"]
    (tmp_path / "bundle" / "config.json").write_text(json.dumps(spec(["NVIDIA_VISIBLE_DEVICES=0"])))
    proc = run_shim(tmp_path, env, "create", "ctr", classes=True)
    assert proc.returncode == 7 and classes.created(proc.stderr) == []  # no exception class either


def test_tegra_csv_files_are_the_base_ones_unless_the_image_wants_all(tmp_path):
    (tmp_path / "x.csv").write_text("")
    (tmp_path / "l4t.csv").write_text("")
    (tmp_path / "notes.txt").write_text("")
    config = HookConfig(csv_mount_spec_path=f"{tmp_path}/")
    assert jitcdi.csv_files(config, {}, os.listdir) == tuple(
        f"{tmp_path}/{n}.csv" for n in ("devices", "drivers", "l4t"))
    assert jitcdi.csv_files(config, {"NVIDIA_REQUIRE_JETPACK": "csv-mounts=all"}, os.listdir) == (
        f"{tmp_path}/l4t.csv", f"{tmp_path}/x.csv")
    opts = jitcdi.options(jitcdi.Request("csv"), config, CTK, (f"{tmp_path}/l4t.csv",))
    assert (opts.mode, opts.csv_files, opts.device_ids, opts.vendor, opts.strategies, opts.no_all_device,
            opts.hook_path, opts.driver_root) == ("csv", (f"{tmp_path}/l4t.csv",), ("all",), "runtime.nvidia.com",
                                                  ("index",), True, CTK, "/")


@pytest.mark.parametrize("value, channels", [("1", ["/dev/nvidia-caps-imex-channels/channel1"]), ("none", []),
                                             ("all", []), ("", [])])
def test_imex_channel_requests_add_the_channel_nodes(driver_root, value, channels):
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=0", f"NVIDIA_IMEX_CHANNELS={value}"])
    run_jit(t, jit_ctx(driver_root))
    nodes = [d["path"] for d in plain(t)["linux"]["devices"]]
    assert [n for n in nodes if "imex" in n] == channels and nodes[0] == "/dev/nvidia0"
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=0", f"NVIDIA_IMEX_CHANNELS={value}"])
    run_jit(t, jit_ctx(driver_root, ignore_imex_channel_requests=True))
    assert not [d for d in plain(t)["linux"]["devices"] if "imex" in d["path"]]
