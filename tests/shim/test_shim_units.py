"""Unit tests of the shim's pure parts: argv scanning, runtime lookup, the spec tree (types, edits,
layout), the legacy and CDI modifiers."""

from __future__ import annotations

import json

import pytest

from hook import oslite
from hook.config import HookConfig, parse
from hook.gojson import Number, Obj, decode_first
from shim import argv, cdispec, lookup, modify, ocispec
from shim.errors import ApplyError, ConstructError


class Log:
    def __init__(self):
        self.lines = []

    def info(self, m):
        self.lines.append(("info", m))

    debug = warning = trace = info


def tree(value) -> Obj:
    return decode_first(json.dumps(value).encode())


def plain(t):
    return ocispec.to_plain(t)


# --- argv (runtime.md §3) ------------------------------------------------------------------------

@pytest.mark.parametrize("args, version", [
    (["--version"], True), (["-version"], True), (["state", "--version=false"], True),
    (["---version=x"], True), (["-v"], False), (["version"], False), (["--versions"], False),
])
def test_version_flag(args, version):
    assert argv.scan(["nvidia-container-runtime", *args]).version is version


@pytest.mark.parametrize("args, create", [
    (["--root", "/r", "--log", "l", "create", "--bundle", "b", "id"], True),
    (["start", "create"], True), (["--root", "create", "state", "x"], True),
    (["--bundle", "create", "x"], False), (["-b", "create"], False), (["run", "--bundle", "b", "id"], False),
    (["--create"], False), (["create=1"], False), (["-b", "-b", "create"], True),
])
def test_create_detection(args, create):
    assert argv.scan(["nvidia-container-runtime", *args]).create is create


@pytest.mark.parametrize("args, bundle", [
    (["create", "-b", "/b", "id"], "/b"), (["create", "--bundle=/b"], "/b"), (["create", "---bundle", "/b"], "/b"),
    (["create", "--bundle", "/x", "-b", "/y"], "/y"), (["create", "id"], ""), (["create", "--bundle="], ""),
])
def test_bundle(args, bundle):
    assert argv.scan(["nvidia-container-runtime", *args]).bundle() == bundle


def test_bundle_flag_without_value_is_an_error_only_when_asked():
    inv = argv.scan(["nvidia-container-runtime", "create", "id", "--bundle"])
    with pytest.raises(ConstructError) as exc:
        inv.bundle()
    assert str(exc.value) == ("failed to create NVIDIA Container Runtime: error constructing OCI specification: "
                              "error getting bundle directory: error getting bundle dir from args: "
                              "bundle option requires an argument")


def test_logger_flags_as_containerd_passes_them():
    inv = argv.scan(["nvidia-container-runtime", "--root", "/r", "--log", "/l.json", "--log-format", "json",
                     "--systemd-cgroup", "create", "--bundle", "/b", "id"])
    assert (inv.log_path, inv.log_json, inv.debug) == ("/l.json", True, False)
    inv = argv.scan(["x", "--debug=false", "--log=/a", "--log-format=text", "--log", "/b"])
    assert (inv.log_path, inv.log_json, inv.debug) == ("/b", False, True)
    inv = argv.scan(["x", "--debug", "--log=/a", "--log-format=json", "--version", "--log", "/b"])
    assert (inv.log_path, inv.log_json, inv.debug) == ("/a", True, True)  # four names seen: stop


# --- runtime lookup (§6) -------------------------------------------------------------------------

def _exe(path, mode=0o755):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(mode)
    return str(path)


def test_first_candidate_wins_over_an_earlier_path_directory(tmp_path):
    _exe(tmp_path / "a" / "crun")
    runc = _exe(tmp_path / "b" / "runc")
    assert lookup.find_runtime(("runc", "crun"), f"{tmp_path}/a:{tmp_path}/b") == runc


def test_candidates_are_globs_and_need_an_execute_bit(tmp_path):
    _exe(tmp_path / "my-runc-1", 0o644)
    found = _exe(tmp_path / "my-runc-2")
    assert lookup.locate("my-r?nc*", str(tmp_path)) == found


def test_relative_path_entries_never_mean_the_cwd(tmp_path, monkeypatch):
    _exe(tmp_path / "runc-xyz-test")
    monkeypatch.chdir(tmp_path)
    assert lookup.locate("runc-xyz-test", ".:") is None
    assert lookup.locate("./runc-xyz-test", "") == "./runc-xyz-test"


def test_no_runtime_found_lists_the_candidates():
    with pytest.raises(Exception) as exc:
        lookup.find_runtime(("no-such-a", "no-such-b"), "/nonexistent")
    assert str(exc.value) == ("failed to create NVIDIA Container Runtime: error constructing low-level runtime: "
                              "error locating runtime: no runtime binary found from candidate list: "
                              "[no-such-a no-such-b]")
    with pytest.raises(Exception, match="at least one runtime candidate must be specified"):
        lookup.find_runtime((), "/bin")


def test_runtime_keys_come_from_the_hook_config_reader():
    cfg = parse(b'[nvidia-container-runtime]\nruntimes = ["crun"]\ndebug = "/l"\nlog-level = "debug"\n'
                b'[nvidia-container-runtime.modes.cdi]\nspec-dirs = ["/s"]\ndefault-kind = "k.com/x"\n'
                b'annotation-prefixes = ["p/"]\n[nvidia-ctk]\npath = "/ctk"\n'
                b'[nvidia-container-runtime-hook]\npath = "/hook"\n', hook_checks=False)
    assert (cfg.runtimes, cfg.runtime_debug, cfg.runtime_log_level) == (("crun",), "/l", "debug")
    assert (cfg.cdi_spec_dirs, cfg.cdi_default_kind, cfg.cdi_annotation_prefixes) == (("/s",), "k.com/x", ("p/",))
    assert (cfg.ctk_path, cfg.runtime_hook_path) == ("/ctk", "/hook")
    defaults = HookConfig()
    assert defaults.runtimes == ("runc", "crun") and defaults.cdi_spec_dirs == ("/etc/cdi", "/var/run/cdi")


def test_hook_only_validation_does_not_stop_the_shim():
    data = b'supported-driver-capabilities = "bogus"\n'
    assert parse(data, hook_checks=False).supported_driver_capabilities == "bogus"
    with pytest.raises(Exception, match="supported-driver-capabilities"):
        parse(data)


# --- the spec tree (§7, §14.1-§14.2) -------------------------------------------------------------

def test_unknown_members_numbers_and_layout_survive_an_edit(tmp_path):
    text = ('{\n\t"ociVersion": "1.2.0",\n\t"io.example/new": {"a": [1.50, 1e3]},\n'
            '\t"process": {"env": ["A=1"], "x-future": 18446744073709551615, "Cwd": "/"}\n}\n')
    path = tmp_path / "config.json"
    path.write_text(text)
    t, style = ocispec.load(str(path))
    ocispec.array(ocispec.child(t, "process"), "env").append("B=2")
    out = ocispec.dumps(t, style).decode()
    assert out == ('{\n\t"ociVersion": "1.2.0",\n\t"io.example/new": {\n\t\t"a": [\n\t\t\t1.50,\n\t\t\t1e3\n'
                   '\t\t]\n\t},\n\t"process": {\n\t\t"env": [\n\t\t\t"A=1",\n\t\t\t"B=2"\n\t\t],\n'
                   '\t\t"x-future": 18446744073709551615,\n\t\t"cwd": "/"\n\t}\n}\n')
    assert style.rewrite  # "Cwd" is written as the runtime reads it


def test_member_names_get_the_spec_spelling_unknown_ones_keep_theirs(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"OCIVERSION": "1.0.0", "Process": {"Env": []}, "x-Ext": {"Process": 1}}')
    t, style = ocispec.load(str(path))
    assert plain(t) == {"ociVersion": "1.0.0", "process": {"env": []}, "x-Ext": {"Process": 1}} and style.rewrite
    path.write_text('{"ociVersion": "1.0.0"}')
    assert ocispec.load(str(path))[1].rewrite is False


def test_a_null_document_is_an_empty_spec_written_back(tmp_path):
    path = tmp_path / "config.json"
    path.write_text("null")
    t, style = ocispec.load(str(path))
    assert t == Obj() and style.rewrite


def test_one_line_specs_stay_one_line():
    t = tree({"a": {"b": [1, "<&>"]}})
    assert ocispec.dumps(t, ocispec.detect_style(b'{"a":1}')) == b'{"a":{"b":[1,"<&>"]}}'


def test_members_match_case_insensitively_and_the_last_wins():
    t = decode_first(b'{"Process": {"env": ["A=1"]}, "process": {"Env": ["B=2"]}}')
    ocispec.array(ocispec.child(t, "process"), "env").append("C=3")
    assert plain(t) == {"Process": {"env": ["A=1"]}, "process": {"Env": ["B=2", "C=3"]}}


@pytest.mark.parametrize("doc, message", [
    ({"hostname": 42}, "json: cannot unmarshal number into Go struct field Spec.hostname of type string"),
    ({"process": {"user": {"uid": -1}}},
     "json: cannot unmarshal number -1 into Go struct field User.process.user.uid of type uint32"),
    ({"linux": {"devices": [{"major": "1"}]}},
     "json: cannot unmarshal string into Go struct field LinuxDevice.linux.devices.major of type int64"),
    ({"mounts": {}}, "json: cannot unmarshal object into Go struct field Spec.mounts of type []specs.Mount"),
])
def test_type_errors_of_known_members(doc, message):
    with pytest.raises(Exception) as exc:
        ocispec.check(tree(doc))
    assert str(exc.value) == message


def test_unknown_members_pass_the_type_check():
    ocispec.check(tree({"root": {"path": "r", "propagation": 3}, "x": {"y": [None]},
                        "windows": {"anything": True}}))


def test_write_replaces_atomically_keeping_mode_and_link(tmp_path):
    target = tmp_path / "real.json"
    target.write_text("{}")
    target.chmod(0o600)
    link = tmp_path / "config.json"
    link.symlink_to(target)
    ocispec.write(str(link), b'{"a": 1}\n')
    assert link.is_symlink() and target.read_text() == '{"a": 1}\n'
    assert (target.stat().st_mode & 0o777) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "real.json"]


def test_failed_rename_leaves_the_original_and_no_temporary_file(tmp_path, monkeypatch):
    path = tmp_path / "config.json"
    path.write_text('{"ociVersion": "1"}')

    def broken(*a):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(oslite, "rename", broken)  # what hook.atomicfile calls
    with pytest.raises(OSError):
        ocispec.write(str(path), b"{}")
    assert path.read_text() == '{"ociVersion": "1"}' and [p.name for p in tmp_path.iterdir()] == ["config.json"]


# --- legacy mode (§8, §14.3) ---------------------------------------------------------------------

HOOK = "/usr/bin/nvidia-container-runtime-hook"


def ctx(**config):
    return modify.Context(HookConfig(**config), Log(), HOOK, "/usr/bin/nvidia-ctk")


def gpu_spec(env, **extra):
    return tree({"ociVersion": "1.2.0", "process": {"env": env, "cwd": "/"}, "root": {"path": "rootfs"}, **extra})


def run_modifiers(t, mode="legacy", c=None):
    c = c or ctx()
    return [m(t) for m in modify.modifiers(mode, t, c)], c


def test_gpu_container_gets_the_hook_once():
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=all"])
    changed, _ = run_modifiers(t)
    assert changed[-1] is True
    assert plain(t)["hooks"] == {"prestart": [{"path": HOOK, "args": ["nvidia-container-runtime-hook", "prestart"]}]}
    changed, c = run_modifiers(t)
    assert changed[-1] is False and ("info", f"Existing nvidia prestart hook ({HOOK}) found in OCI spec") in c.log.lines


@pytest.mark.parametrize("env", [[], ["NVIDIA_VISIBLE_DEVICES=void"], ["NVIDIA_VISIBLE_DEVICES="]])
def test_non_gpu_container_gets_no_hook(env):
    t = gpu_spec(env)
    before = plain(t)
    changed, _ = run_modifiers(t)
    assert changed == [False] and plain(t) == before


def test_unprivileged_env_request_refused_by_config_gets_no_hook():
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=all"])
    changed, _ = run_modifiers(t, c=ctx(accept_envvar_unprivileged=False))
    assert changed == [False]


@pytest.mark.parametrize("doc", [
    {"ociVersion": "1.2.0", "root": {"path": "r"}},                       # no process: the hook fails
    {"process": {"env": []}, "root": {"path": "r"}},                      # no ociVersion
])
def test_a_spec_the_hook_would_reject_still_gets_the_hook(doc):
    t = tree(doc)
    changed, _ = run_modifiers(t)
    assert changed == [True] and plain(t)["hooks"]["prestart"][0]["path"] == HOOK


@pytest.mark.parametrize("config", [{"supported_driver_capabilities": "bogus"}, {"injector": "turbo"}])
def test_a_config_the_hook_would_reject_still_gets_the_hook(config):
    t = gpu_spec([])
    changed, _ = run_modifiers(t, c=ctx(**config))
    assert changed == [True]


def test_feature_edit_void_does_not_hide_the_gpu_request_from_the_hook_decision():
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_GDS=enabled"])
    run_modifiers(t)
    p = plain(t)
    assert p["process"]["env"][-1] == "NVIDIA_VISIBLE_DEVICES=void" and p["hooks"]["prestart"][0]["path"] == HOOK


def test_env_entry_without_equals_fails_construction():
    with pytest.raises(ConstructError, match="failed to construct OCI spec modifier: invalid environment variable: X"):
        modify.modifiers("legacy", gpu_spec(["X"]), ctx())


# --- cdi mode (§11) -------------------------------------------------------------------------------

def test_cdi_names_qualify_and_deduplicate():
    assert modify.cdi_names(["0", "nvidia.com/gpu=0", "", "x.com/y=1"], "nvidia.com/gpu") == \
        ["nvidia.com/gpu=0", "nvidia.com/gpu=none", "x.com/y=1"]


def test_cdi_removes_only_nvidia_prestart_hooks():
    t = gpu_spec([], hooks={"prestart": [{"path": "/a/nvidia-container-toolkit"}, {"path": "/other"},
                                         {"path": "nvidia-container-runtime-hook"}],
                            "poststart": [{"path": HOOK}]})
    assert modify.remove_nvidia_hooks(t) is True
    assert plain(t)["hooks"] == {"prestart": [{"path": "/other"}], "poststart": [{"path": HOOK}]}


def test_mixed_automatic_and_other_cdi_devices_are_refused():
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=runtime.nvidia.com/gpu=0,nvidia.com/gpu=1"])
    with pytest.raises(ConstructError, match="vendor 'runtime.nvidia.com' is not supported"):
        modify.modifiers("cdi", t, ctx())


def test_jit_cdi_with_a_request_fails_as_without_nvml(tmp_path):
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"])
    with pytest.raises(ApplyError) as exc:  # a driver root without libnvidia-ml.so.1
        run_modifiers(t, "jit-cdi", ctx(cli_root=str(tmp_path)))
    assert str(exc.value).endswith("failed to initialize NVML: ERROR_LIBRARY_NOT_FOUND")


SPEC_YAML = """cdiVersion: 0.6.0
kind: example.com/dev
containerEdits:
  env: [SHARED=1]
devices:
  - name: a
    containerEdits:
      env: [A=1, SHARED=2]
      deviceNodes: [{path: /dev/x0, hostPath: /dev/null, permissions: rw}]
      mounts: [{hostPath: /h/lib, containerPath: /usr/lib/x/lib.so, options: [ro, bind]}]
      hooks: [{hookName: createContainer, path: /bin/h, args: [h, one]}]
"""


def test_cdi_edits_apply_in_order_with_host_device_info(tmp_path):
    (tmp_path / "d1").mkdir()
    (tmp_path / "d1" / "dev.yaml").write_text(SPEC_YAML)
    (tmp_path / "d1" / "broken.json").write_text("{")
    warnings = []
    edits = cdispec.from_spec_dirs([str(tmp_path / "d1"), str(tmp_path / "missing")], ["example.com/dev=a"],
                                   warnings.append)
    assert len(warnings) == 1 and warnings[0].startswith(f"Ignoring CDI spec {tmp_path}/d1/broken.json: ")
    t = gpu_spec(["SHARED=0"], mounts=[{"destination": "/usr/lib/x/lib.so", "source": "/old"},
                                       {"destination": "/proc", "source": "proc"}],
                 process={"env": ["SHARED=0"], "user": {"uid": 1000, "gid": 1001}})
    cdispec.apply(t, edits)
    p = plain(t)
    assert p["process"]["env"] == ["SHARED=0", "SHARED=2", "A=1"]
    assert p["linux"]["devices"] == [{"path": "/dev/x0", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666,
                                      "uid": 1000, "gid": 1001}]
    assert p["linux"]["resources"]["devices"] == [{"allow": True, "type": "c", "major": 1, "minor": 3,
                                                   "access": "rw"}]
    assert p["mounts"] == [{"destination": "/proc", "source": "proc"},
                           {"destination": "/usr/lib/x/lib.so", "source": "/h/lib", "options": ["ro", "bind"]}]
    assert p["hooks"] == {"createContainer": [{"path": "/bin/h", "args": ["h", "one"]}]}


def test_a_later_spec_directory_wins_and_unresolvable_names_are_listed(tmp_path):
    for d, env in (("a", "FROM=a"), ("b", "FROM=b")):
        (tmp_path / d).mkdir()
        (tmp_path / d / "s.json").write_text(json.dumps(
            {"cdiVersion": "0.5.0", "kind": "k.com/c", "devices": [{"name": "0", "containerEdits": {"env": [env]}}]}))
    dirs = [str(tmp_path / "a"), str(tmp_path / "b")]
    assert cdispec.from_spec_dirs(dirs, ["k.com/c=0"], print)[1].env == ["FROM=b"]
    with pytest.raises(cdispec.CdiError, match="^unresolvable CDI devices k.com/c=1, k.com/c=2$"):
        cdispec.from_spec_dirs(dirs, ["k.com/c=0", "k.com/c=1", "k.com/c=2"], print)


def test_number_type_stays_a_number():
    assert isinstance(ocispec.to_tree(3), Number) and ocispec.to_tree(True) is True


def test_values_of_the_wrong_type_in_a_cdi_spec_are_an_error_not_a_crash():
    t = gpu_spec([])
    with pytest.raises(cdispec.CdiError, match="^invalid container edits: "):
        cdispec.apply(t, [cdispec.Edits({"deviceNodes": [{"path": "/dev/x", "type": "c", "major": "one"}]})])


@pytest.mark.parametrize("env, graphics", [
    ({"NVIDIA_DRIVER_CAPABILITIES": "compute,graphics"}, True), ({"NVIDIA_DRIVER_CAPABILITIES": "all"}, True),
    ({"NVIDIA_DRIVER_CAPABILITIES": "display"}, True), ({"NVIDIA_DRIVER_CAPABILITIES": "compute, graphics"}, False),
    ({"NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}, False), ({"CUDA_VERSION": "12.0"}, False), ({}, False),
])
def test_graphics_edits_follow_the_capability_variable(env, graphics):
    assert modify._wants_graphics(env) is graphics


def test_graphics_request_without_a_driver_fails_as_upstream(tmp_path):
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=graphics"])
    with pytest.raises(ApplyError) as exc:
        run_modifiers(t, c=ctx(cli_root=str(tmp_path)))
    assert str(exc.value).startswith(
        "could not apply required modification to OCI specification: error modifying OCI spec: failed to create "
        "mounts discoverer: failed to construct discoverer for graphics libraries: failed to get driver version: ")


def test_a_mount_replaces_every_earlier_one_with_its_destination_and_goes_last():
    """As if added one by one: the spec's /a is replaced, the first /b by the second, the order kept."""
    t = gpu_spec([], mounts=[{"destination": "/a", "source": "old"}, {"destination": "/x", "source": "x"}])
    cdispec.apply(t, [cdispec.Edits({"mounts": [{"containerPath": "/b", "hostPath": "b1"},
                                                {"containerPath": "/a", "hostPath": "a2"},
                                                {"containerPath": "/b", "hostPath": "b2", "options": ["ro"]}]})])
    assert plain(t)["mounts"] == [{"destination": "/x", "source": "x"},
                                  {"destination": "/a", "source": "a2", "options": []},
                                  {"destination": "/b", "source": "b2", "options": ["ro"]}]
    with pytest.raises(cdispec.CdiError, match="^invalid mount "):
        cdispec.apply(t, [cdispec.Edits({"mounts": [{"containerPath": "/c"}, {"hostPath": "/no-destination"}]})])


def test_graphics_files_of_the_driver_version_are_mounted(tmp_path):
    lib = tmp_path / "usr/lib/x86_64-linux-gnu"
    lib.mkdir(parents=True)
    for name in ("libcuda.so.550.54.15", "libGLX_nvidia.so.550.54.15", "libGLX_nvidia.so.1"):
        (lib / name).write_text("x")
    t = gpu_spec(["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=graphics"])
    run_modifiers(t, c=ctx(cli_root=str(tmp_path)))
    assert plain(t)["mounts"] == [{"destination": "/usr/lib/x86_64-linux-gnu/libGLX_nvidia.so.550.54.15",
                                   "source": f"{lib}/libGLX_nvidia.so.550.54.15",
                                   "options": ["ro", "nosuid", "nodev", "bind"]}]


def test_cdi_specs_come_from_the_one_cdi_reader(tmp_path):
    """cdi mode reads specs with cdi.registry (strict validation, same-priority conflicts) and, as
    runtime.md §11.2 says, also ``*.yml`` files."""
    d = tmp_path / "d"
    d.mkdir()
    (d / "a.yml").write_text("cdiVersion: 0.5.0\nkind: k.com/c\ndevices:\n- name: y\n  containerEdits: {env: [Y=1]}\n")
    for n in ("b.json", "c.json"):  # the same device twice in one directory: a conflict
        (d / n).write_text(json.dumps({"cdiVersion": "0.5.0", "kind": "k.com/c",
                                       "devices": [{"name": "dup", "containerEdits": {"env": [f"F={n}"]}}]}))
    (d / "d.json").write_text(json.dumps({"cdiVersion": "0.5.0", "kind": "k.com/c", "unknown": 1,
                                          "devices": [{"name": "u", "containerEdits": {"env": ["U=1"]}}]}))
    warnings = []
    assert [e.env for e in cdispec.from_spec_dirs([str(d)], ["k.com/c=y"], warnings.append)] == [[], ["Y=1"]]
    assert warnings == [f'Ignoring CDI spec {d}/c.json: conflicting device "k.com/c=dup" (specs "{d}/b.json", '
                        f'"{d}/c.json")', f'Ignoring CDI spec {d}/d.json: {d}/d.json: unknown field "unknown"']
    with pytest.raises(cdispec.CdiError, match="^unresolvable CDI devices k.com/c=dup, k.com/c=u$"):
        cdispec.from_spec_dirs([str(d)], ["k.com/c=dup", "k.com/c=u"], print)
