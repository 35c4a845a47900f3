"""cdi generate as a library call, the spec writer (YAML layout, version, validation), saving."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest
import yaml
from hypothesis import given, strategies as st

from cdi import generate as G, output, spec as S


def test_a_generation_lists_each_folder_once(driver_root, monkeypatch):
    """The dozen library patterns are looked up in the same library folders: each is listed once."""
    from hook import oslite

    listed = []
    real = oslite.listdir
    monkeypatch.setattr(oslite, "listdir", lambda p: listed.append(p) or real(p))
    G.generate(G.Options(mode="nvml", driver_root=str(driver_root)))
    assert listed and len(listed) == len(set(listed))


def test_generate_is_a_library_call(driver_root):
    """What the runtime's jit-cdi mode needs: driver root + options → spec values, in memory."""
    specs = G.generate(G.Options(mode="nvml", driver_root=str(driver_root), vendor="runtime.nvidia.com",
                                 strategies=("index",), no_all_device=True, hook_path="/usr/bin/nvidia-cdi-hook"))
    assert len(specs) == 1
    s = specs[0]
    S.validate(s)
    assert s["kind"] == "runtime.nvidia.com/gpu" and [d["name"] for d in s["devices"]] == ["0", "1"]
    assert s["devices"][1]["containerEdits"]["deviceNodes"][0]["hostPath"] == f"{driver_root}/dev/nvidia1"
    assert s["containerEdits"]["env"][-1] == "NVIDIA_VISIBLE_DEVICES=void"


def test_an_all_slash_dev_root_is_the_hosts_root(driver_root):
    """``--dev-root=//`` is ``/`` (hook.gocompat.under_root): the host's device nodes, no ``hostPath``."""
    specs = {r: G.generate(G.Options(mode="nvml", driver_root=str(driver_root), dev_root=r)) for r in ("/", "//")}
    assert specs["//"] == specs["/"]
    assert specs["/"][0]["devices"][1]["containerEdits"]["deviceNodes"][0] == {"path": "/dev/nvidia1"}


def test_yaml_writer_matches_the_reference_layout_and_parses_back(driver_root):
    s = G.generate(G.Options(mode="nvml", driver_root=str(driver_root)))[0]
    text = S.to_yaml(s)
    assert text.startswith("---\ncdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices:\n    - name: \"0\"\n"
                           "      containerEdits:\n        deviceNodes:\n            - path: /dev/nvidia0\n")
    assert yaml.safe_load(text) == json.loads(S.to_json(s))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12))
def test_yaml_scalars_round_trip(value):
    spec = {"cdiVersion": "0.3.0", "kind": "a/b", "devices": [{"name": "x", "containerEdits": {"env": [value]}}],
            "containerEdits": {}}
    assert yaml.safe_load(S.to_yaml(spec))["devices"][0]["containerEdits"]["env"] == [value]


@pytest.mark.parametrize("edit,version", [
    ({}, "0.3.0"), ({"mounts": [{"hostPath": "/a", "containerPath": "/a", "type": "bind"}]}, "0.4.0"),
    ({"deviceNodes": [{"path": "/dev/x", "hostPath": "/r/dev/x"}]}, "0.5.0"), ({"additionalGids": [44]}, "0.7.0"),
])
def test_min_version(edit, version):
    spec = {"kind": "a/b", "devices": [{"name": "x", "containerEdits": {"env": ["A=1"]}}], "containerEdits": edit}
    assert S.min_version(spec) == version


def test_validation_errors_are_the_references():
    with pytest.raises(S.SpecError, match="invalid spec, no devices"):
        S.validate({"cdiVersion": "0.5.0", "kind": "a/b", "devices": [], "containerEdits": {}})
    with pytest.raises(S.SpecError, match='failed add device "all": invalid device, empty device edits'):
        S.validate({"cdiVersion": "0.5.0", "kind": "a/b", "devices": [{"name": "all", "containerEdits": {}}]})
    with pytest.raises(S.SpecError, match="invalid character ' ' in name"):
        S.check_vendor("bad vendor!")


def test_output_file_mode_is_0644_whatever_the_umask(tmp_path, driver_root):
    specs = G.generate(G.Options(mode="gdrcopy", driver_root=str(driver_root)))
    old = os.umask(0o077)
    try:
        paths = output.save(specs, str(tmp_path / "d" / "x.yml"), "json")
    finally:
        os.umask(old)
    assert paths == [str(tmp_path / "d" / "x.yml.json")]
    assert stat.S_IMODE(os.stat(paths[0]).st_mode) == 0o644
    assert not [p for p in os.listdir(tmp_path / "d") if p != "x.yml.json"]  # no temp file left


def test_invalid_spec_is_not_written(tmp_path, ctk_bin, driver_root):
    out = tmp_path / "o.yaml"
    p = subprocess.run([str(ctk_bin), "cdi", "generate", "--driver-root", str(driver_root), "--mode", "nvml",
                        "--output", str(out)], env={"FAKE_NVML_GPUS": "0", "PATH": "/usr/bin:/bin"},
                       capture_output=True, text=True)
    assert p.returncode == 1 and not out.exists()
    assert p.stderr.strip().splitlines()[-1].endswith(
        'level=error msg="failed to write spec: invalid CDI Spec: failed add device \\"all\\": invalid device, '
        'empty device edits"')


def test_bad_flag_values_are_one_error_line(ctk_bin):
    for args, msg in ((["--format", "xml"], "invalid output format: xml"),
                      (["--mode", "bogus"], "invalid discovery mode: bogus"),
                      (["--device-name-strategy", "x"], "invalid device name strategy: x")):
        p = subprocess.run([str(ctk_bin), "cdi", "generate", *args], capture_output=True, text=True)
        assert p.returncode == 1 and p.stdout == "" and p.stderr.count("\n") == 1 and msg in p.stderr


def test_driver_root_defaults_to_the_configs_cli_root(tmp_path, ctk_bin, driver_root):
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[nvidia-container-cli]\nroot = "{driver_root}"\n')
    p = subprocess.run([str(ctk_bin), "--config", str(cfg), "cdi", "generate", "--mode", "gdrcopy", "--format", "json"],
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["devices"][0]["containerEdits"]["deviceNodes"][0]["hostPath"] == \
        f"{driver_root}/dev/gdrdrv"
    p = subprocess.run([str(ctk_bin), "--config", str(cfg), "cdi", "generate", "--mode", "gdrcopy", "--format", "json"],
                       capture_output=True, text=True, env={"PATH": "/usr/bin:/bin", "NVIDIA_CTK_DRIVER_ROOT": "/nope"})
    assert p.returncode == 1  # the environment wins over the config: no /nope/dev/gdrdrv


def test_library_search_path_finds_driver_libraries_outside_the_usual_folders(tmp_path, ctk_bin, driver_root):
    """``--library-search-path`` is the library locator's search path (as upstream's: those host folders
    instead of the root's ld.so.cache and fixed folders): NVML, the driver libraries and their folder."""
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", str(driver_root), str(root)], check=True)
    (root / "opt" / "nv").mkdir(parents=True)
    os.rename(root / "usr/lib/x86_64-linux-gnu", root / "opt/nv/lib")
    os.unlink(root / "etc/ld.so.cache")
    cmd = [str(ctk_bin), "cdi", "generate", "--driver-root", str(root), "--mode", "nvml", "--format", "json",
           "--nvidia-cdi-hook-path", "/usr/bin/nvidia-cdi-hook"]
    env = {"PATH": "/usr/bin:/bin"}
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert p.returncode == 1 and p.stdout == ""
    *_, warning, error = p.stderr.strip().splitlines()
    assert warning.endswith(f'level=warning msg="libnvidia-ml.so.1 not found in {root}/etc/ld.so.cache or the '
                            f'library folders under {root}"')
    assert error.endswith('level=error msg="failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND"')

    p = subprocess.run(cmd + ["--library-search-path", f"{root}/opt/nv/lib"], capture_output=True, text=True, env=env)
    assert p.returncode == 0, p.stderr
    assert f"Using {root}/opt/nv/lib/libnvidia-ml.so.550.54.14" in p.stderr
    edits = json.loads(p.stdout)["containerEdits"]
    mounts = {m["containerPath"]: m["hostPath"] for m in edits["mounts"]}
    assert mounts["/opt/nv/lib/libcuda.so.550.54.14"] == f"{root}/opt/nv/lib/libcuda.so.550.54.14"
    assert mounts["/opt/nv/lib/vdpau/libvdpau_nvidia.so.550.54.14"] == \
        f"{root}/opt/nv/lib/vdpau/libvdpau_nvidia.so.550.54.14"
    assert not [c for c in mounts if c.startswith("/usr/lib/x86_64-linux-gnu/")]
    ldcache = [h["args"] for h in edits["hooks"] if h["args"][1] == "update-ldcache"]
    assert ldcache == [["nvidia-cdi-hook", "update-ldcache", "--folder", "/opt/nv/lib",
                        "--folder", "/opt/nv/lib/vdpau"]]
    assert "NVIDIA_CTK_LIBCUDA_DIR=/opt/nv/lib" in edits["env"]

    env["NVIDIA_CTK_CDI_GENERATE_LIBRARY_SEARCH_PATHS"] = f"{root}/opt/nv/lib"  # the flag's variable
    p2 = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert p2.returncode == 0 and p2.stdout == p.stdout


def test_config_files_are_mounted_where_the_spec_says_whatever_host_folder(tmp_path, driver_root):
    """Spec 2.2 item 2: OpenCL and Vulkan files under /etc, the other config files under /usr/share,
    wherever they were found: under the root's other folders, or in a --config-search-path."""
    root = tmp_path / "root"
    subprocess.run(["cp", "-a", str(driver_root), str(root)], check=True)
    (root / "usr/share/vulkan").mkdir(parents=True)
    os.rename(root / "etc/vulkan/icd.d", root / "usr/share/vulkan/icd.d")
    os.rename(root / "usr/share/glvnd", root / "etc/glvnd")

    def configs(**kw):
        s = G.generate(G.Options(mode="nvml", driver_root=str(root), **kw))[0]
        return {m["containerPath"]: m["hostPath"] for m in s["containerEdits"]["mounts"]
                if m["containerPath"].startswith(("/etc/", "/usr/share/"))}

    assert configs() == {
        "/etc/OpenCL/vendors/nvidia.icd": f"{root}/etc/OpenCL/vendors/nvidia.icd",
        "/etc/vulkan/icd.d/nvidia_icd.json": f"{root}/usr/share/vulkan/icd.d/nvidia_icd.json",
        "/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json":
            f"{root}/usr/share/egl/egl_external_platform.d/15_nvidia_gbm.json",
        "/usr/share/glvnd/egl_vendor.d/10_nvidia.json": f"{root}/etc/glvnd/egl_vendor.d/10_nvidia.json",
        "/usr/share/nvidia/nvoptix.bin": f"{root}/usr/share/nvidia/nvoptix.bin",
    }
    cfg = tmp_path / "cfg"
    (cfg / "vulkan/icd.d").mkdir(parents=True)
    (cfg / "glvnd/egl_vendor.d").mkdir(parents=True)
    (cfg / "vulkan/icd.d/nvidia_icd.json").write_text("{}")
    (cfg / "glvnd/egl_vendor.d/10_nvidia.json").write_text("{}")
    assert configs(config_search_paths=(str(cfg),)) == {
        "/etc/vulkan/icd.d/nvidia_icd.json": f"{cfg}/vulkan/icd.d/nvidia_icd.json",
        "/usr/share/glvnd/egl_vendor.d/10_nvidia.json": f"{cfg}/glvnd/egl_vendor.d/10_nvidia.json",
    }


def test_an_nvml_that_does_not_load_is_nvmls_library_not_found(tmp_path, caplog):
    """go-nvml's wording for a library it cannot dlopen (spec container-runtime §11.1), with ours before it."""
    from cdi.errors import NvmlNotFoundError
    (tmp_path / "libnvidia-ml.so.1").write_text("not an ELF file\n")
    with pytest.raises(NvmlNotFoundError) as exc:
        G.generate(G.Options(mode="nvml", driver_root=str(tmp_path)))
    assert str(exc.value) == "failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND"
    assert f"Failed to load {tmp_path}/libnvidia-ml.so.1: " in caplog.text


def test_library_folders_resolve_links_as_realpath_does(tmp_path):
    """discover._real_dir (folders resolved once, bare-name links followed in the folder) gives
    os.path.dirname(os.path.realpath(p)) for every kind of link an ld.so.cache can point at."""
    from cdi.discover import _real_dir
    lib, other = tmp_path / "usr" / "lib", tmp_path / "opt" / "other"
    lib.mkdir(parents=True)
    other.mkdir(parents=True)
    (lib / "libc.so.6.1").write_text("")
    (other / "libx.so.1.0").write_text("")
    (tmp_path / "lib").symlink_to("usr/lib")
    links = {"libc.so.6": "libc.so.6.1", "libc.so": "libc.so.6", "libx.so.1": "../../opt/other/libx.so.1.0",
             "liby.so": str(other / "libx.so.1.0"), "dangling.so": "missing.so", "loop.so": "loop.so",
             "up.so": "..", "dot.so": ".", "chain.so": "libx.so.1"}
    for name, target in links.items():
        (lib / name).symlink_to(target)
    paths = [str(d / n) for d in (lib, tmp_path / "lib") for n in (*links, "libc.so.6.1", "nothing.so")]
    paths += [str(lib) + "/", str(lib / ".."), str(tmp_path / "lib")]
    memo: dict[str, str] = {}
    assert [_real_dir(p, memo) for p in paths] == [os.path.dirname(os.path.realpath(p)) for p in paths]
