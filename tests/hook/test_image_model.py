"""hook.md §11.1-§11.2, §11.5-§11.12: the CUDA image model and the decision table."""

from __future__ import annotations

from collections import Counter

import pytest

from hook import image
from hook.errors import ImageError
from hook.decide import decide
from hook.spec import Mount

from hook_testlib import ALL7, DEF, R, config, dev_mounts, make_spec

CV9 = "CUDA_VERSION=9.0"
NRC = "NVIDIA_REQUIRE_CUDA=cuda>=9.0"


def nvidia_config(env, priv=False, **cfg):
    d = decide(config(**cfg), make_spec(env, priv))
    if d.devices is None:
        return None
    return (list(d.devices), d.mig_config, d.mig_monitor, d.capabilities, Counter(d.requirements))


NC = [
    ("NC01", [], False, {}, None),
    ("NC02", [], True, {}, None),
    ("NC03", [CV9], False, {}, (["all"], "", "", ALL7, ["cuda>=9.0"])),
    ("NC04", [CV9, "NVIDIA_VISIBLE_DEVICES=all"], False, {}, (["all"], "", "", ALL7, ["cuda>=9.0"])),
    ("NC05", [CV9, "NVIDIA_VISIBLE_DEVICES="], False, {}, None),
    ("NC06", [CV9, "NVIDIA_VISIBLE_DEVICES=void"], False, {}, None),
    ("NC07", [CV9, "NVIDIA_VISIBLE_DEVICES=none"], False, {}, ([""], "", "", ALL7, ["cuda>=9.0"])),
    ("NC08", [CV9, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1"], False, {}, (["gpu0", "gpu1"], "", "", ALL7, ["cuda>=9.0"])),
    ("NC09", [CV9, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES="], False, {},
     (["gpu0", "gpu1"], "", "", DEF, ["cuda>=9.0"])),
    ("NC10", [CV9, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES=all"], False, {},
     (["gpu0", "gpu1"], "", "", ALL7, ["cuda>=9.0"])),
    ("NC11", [CV9, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES=video,display"], False, {},
     (["gpu0", "gpu1"], "", "", ("display", "video"), ["cuda>=9.0"])),
    ("NC12", [CV9, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES=video,display",
              "NVIDIA_REQUIRE_REQ0=req0=true", "NVIDIA_REQUIRE_REQ1=req1=false"], False, {},
     (["gpu0", "gpu1"], "", "", ("display", "video"), ["cuda>=9.0", "req0=true", "req1=false"])),
    ("NC13", [CV9, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES=video,display",
              "NVIDIA_REQUIRE_REQ0=req0=true", "NVIDIA_REQUIRE_REQ1=req1=false", "NVIDIA_DISABLE_REQUIRE=true"],
     False, {}, (["gpu0", "gpu1"], "", "", ("display", "video"), [])),
    ("NC14", [NRC], False, {}, None),
    ("NC15", [CV9, NRC], False, {}, None),
    ("NC16", [NRC, "NVIDIA_VISIBLE_DEVICES=all"], False, {}, (["all"], "", "", DEF, ["cuda>=9.0"])),
    ("NC17", [NRC, "NVIDIA_VISIBLE_DEVICES="], False, {}, None),
    ("NC18", [NRC, "NVIDIA_VISIBLE_DEVICES=void"], False, {}, None),
    ("NC19", [NRC, "NVIDIA_VISIBLE_DEVICES=none"], False, {}, ([""], "", "", DEF, ["cuda>=9.0"])),
    ("NC20", [NRC, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1"], False, {}, (["gpu0", "gpu1"], "", "", DEF, ["cuda>=9.0"])),
    ("NC21", [NRC, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES="], False, {},
     (["gpu0", "gpu1"], "", "", DEF, ["cuda>=9.0"])),
    ("NC22", [NRC, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES=all"], False, {},
     (["gpu0", "gpu1"], "", "", ALL7, ["cuda>=9.0"])),
    ("NC23", [NRC, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES=video,display"], False, {},
     (["gpu0", "gpu1"], "", "", ("display", "video"), ["cuda>=9.0"])),
    ("NC24", [NRC, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES=video,display",
              "NVIDIA_REQUIRE_REQ0=req0=true", "NVIDIA_REQUIRE_REQ1=req1=false"], False, {},
     (["gpu0", "gpu1"], "", "", ("display", "video"), ["cuda>=9.0", "req0=true", "req1=false"])),
    ("NC25", [NRC, "NVIDIA_VISIBLE_DEVICES=gpu0,gpu1", "NVIDIA_DRIVER_CAPABILITIES=video,display",
              "NVIDIA_REQUIRE_REQ0=req0=true", "NVIDIA_REQUIRE_REQ1=req1=false", "NVIDIA_DISABLE_REQUIRE=true"],
     False, {}, (["gpu0", "gpu1"], "", "", ("display", "video"), [])),
    ("NC26", ["NVIDIA_VISIBLE_DEVICES=all"], False, {}, (["all"], "", "", DEF, [])),
    ("NC27", [NRC, "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_MIG_CONFIG_DEVICES=mig0,mig1"], True, {},
     (["all"], "mig0,mig1", "", DEF, ["cuda>=9.0"])),
    ("NC29", [NRC, "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_MIG_MONITOR_DEVICES=mig0,mig1"], True, {},
     (["all"], "", "mig0,mig1", DEF, ["cuda>=9.0"])),
    ("NC31", ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=all"], True,
     {"supported_driver_capabilities": "video,display"}, (["all"], "", "", ("display", "video"), [])),
    ("NC32", ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=video,display"], True,
     {"supported_driver_capabilities": "video,display,compute,utility"}, (["all"], "", "", ("display", "video"), [])),
    ("NC33", ["NVIDIA_VISIBLE_DEVICES=all"], True,
     {"supported_driver_capabilities": "video,display,utility,compute"}, (["all"], "", "", DEF, [])),
    ("NC34", ["NVIDIA_VISIBLE_DEVICES=all", "DOCKER_SWARM_RESOURCE=GPU1,GPU2"], True,
     {"swarm_resource": "DOCKER_SWARM_RESOURCE", "supported_driver_capabilities": "video,display,utility,compute"},
     (["GPU1", "GPU2"], "", "", DEF, [])),
    ("NC35", ["NVIDIA_VISIBLE_DEVICES=all", "DOCKER_SWARM_RESOURCE=GPU1,GPU2"], True,
     {"swarm_resource": "NOT_DOCKER_SWARM_RESOURCE,DOCKER_SWARM_RESOURCE",
      "supported_driver_capabilities": "video,display,utility,compute"},
     (["GPU1", "GPU2"], "", "", DEF, [])),
]


@pytest.mark.parametrize("case_id,env,priv,cfg,expected", NC, ids=[c[0] for c in NC])
def test_nvidia_config_from_image(case_id, env, priv, cfg, expected):
    got = nvidia_config(env, priv, **cfg)
    if expected is None:
        assert got is None
    else:
        devices, mig_config, mig_monitor, caps, reqs = expected
        assert got == (devices, mig_config, mig_monitor, caps, Counter(reqs))


@pytest.mark.parametrize("case_id,var,message", [
    ("NC28", "NVIDIA_MIG_CONFIG_DEVICES", "cannot set MIG_CONFIG_DEVICES in non privileged container"),
    ("NC30", "NVIDIA_MIG_MONITOR_DEVICES", "cannot set MIG_MONITOR_DEVICES in non privileged container"),
])
def test_mig_in_unprivileged_container_is_fatal(case_id, var, message):
    with pytest.raises(ImageError) as exc:
        nvidia_config([NRC, "NVIDIA_VISIBLE_DEVICES=all", f"{var}=mig0,mig1"], False)
    assert str(exc.value) == message


SUP4 = frozenset(("compute", "display", "utility", "video"))


@pytest.mark.parametrize("case_id,ndc,legacy,supported,expected", [
    ("DC01", "display,video", True, SUP4, ("display", "video")),
    ("DC02", "all", True, SUP4, ("compute", "display", "utility", "video")),
    ("DC03", "", True, SUP4, DEF),
    ("DC04", None, True, SUP4, ("compute", "display", "utility", "video")),
    ("DC05", "display,video", False, SUP4, ("display", "video")),
    ("DC06", None, False, SUP4, DEF),
    ("DC07", "all", False, SUP4, ("compute", "display", "utility", "video")),
    ("DC08", "", False, SUP4, DEF),
    ("DC10", None, False, frozenset(("compute",)), ("compute",)),
])
def test_driver_capabilities(case_id, ndc, legacy, supported, expected):
    env = {} if ndc is None else {"NVIDIA_DRIVER_CAPABILITIES": ndc}
    assert image.driver_capabilities(env, legacy, supported) == expected


def test_driver_capabilities_unsupported_is_fatal_DC09():
    with pytest.raises(ImageError) as exc:
        image.driver_capabilities({"NVIDIA_DRIVER_CAPABILITIES": "compute,utility"}, False,
                                  frozenset(("not-compute", "not-utility")))
    assert str(exc.value) == "unsupported capabilities found in 'compute,utility' (allowed '')"


@pytest.mark.parametrize("value,expected_error", [
    ("ALL", "unsupported capabilities found in 'ALL' (allowed '')"),
    ("compute,foo", "unsupported capabilities found in 'compute,foo' (allowed 'compute')"),
    ("none", "unsupported capabilities found in 'none' (allowed '')"),
])
def test_driver_capabilities_error_text(value, expected_error):
    with pytest.raises(ImageError) as exc:
        image.driver_capabilities({"NVIDIA_DRIVER_CAPABILITIES": value}, False, frozenset(ALL7))
    assert str(exc.value) == expected_error


@pytest.mark.parametrize("value,expected", [
    (",", ()), (" ", ()), ("compute,all", ALL7), ("all,foo", ALL7), (" compute , video ", ("compute", "video")),
    ("compute,compute", ("compute",)),
])
def test_driver_capabilities_parsing(value, expected):
    assert image.driver_capabilities({"NVIDIA_DRIVER_CAPABILITIES": value}, False, frozenset(ALL7)) == expected


@pytest.mark.parametrize("case_id,value,expected", [
    ("CV01", "0", "0.0"), ("CV02", "8", "8.0"), ("CV03", "7.5", "7.5"), ("CV04", "9.0.116", "9.0"),
    ("CV05", "4294967295.4294967295.4294967295", "4294967295.4294967295"), ("CV06", "v11.6", "11.6"),
    ("B19a", "011.02", "11.2"), ("B19b", "11.0-rc1", "11.0"),
])
def test_cuda_major_minor(case_id, value, expected):
    assert image.cuda_major_minor(value) == expected


@pytest.mark.parametrize("value", ["foo", "foo.5.10", "9.0.116.50", "9.0.116foo", "7.foo", "9.0.bar",
                                   "9.4294967296", "9.0.116.", "9..0", "9.", ".5.10", "-9", "+9", "-9.1.116",
                                   "-9.-1.-116"])
def test_cuda_version_errors_CV07_CV21(value):
    with pytest.raises(ImageError) as exc:
        image.cuda_major_minor(value)
    assert str(exc.value).startswith(
        f"failed to get requirements failed to get version: invalid CUDA version {value}: ")


def test_cuda_version_error_reasons():
    with pytest.raises(ImageError) as exc:
        image.cuda_major_minor("legacy")
    assert str(exc.value).endswith("invalid CUDA version legacy: invalid version string: invalid semantic version")
    with pytest.raises(ImageError) as exc:
        image.cuda_major_minor("9.4294967296")
    assert str(exc.value).endswith(": invalid minor version")
    with pytest.raises(ImageError) as exc:
        image.cuda_major_minor("4294967296.1")
    assert str(exc.value).endswith(": invalid major version")


@pytest.mark.parametrize("case_id,env,expected", [
    ("RQ01", {"NVIDIA_REQUIRE_JETPACK": "csv-mounts=all"}, []),
    ("RQ02", {"NVIDIA_REQUIRE_JETPACK_HOST_MOUNTS": "base-only"}, []),
    ("RQ03", {"NVIDIA_REQUIRE_CUDA": "cuda>=11.6"}, ["cuda>=11.6"]),
    ("RQ04", {"NVIDIA_REQUIRE_CUDA": "cuda>=11.6", "NVIDIA_REQUIRE_BRAND": "brand=tesla"}, ["cuda>=11.6", "brand=tesla"]),
    ("RQ05", {"CUDA_VERSION": "11.6"}, ["cuda>=11.6"]),
    ("RQ06", {"CUDA_VERSION": "11.6", "NVIDIA_REQUIRE_BRAND": "brand=tesla"}, ["cuda>=11.6", "brand=tesla"]),
    ("RQ07", {"NVIDIA_REQUIRE_CUDA": "cuda>=11.6", "NVIDIA_REQUIRE_BRAND": "brand=tesla",
              "NVIDIA_DISABLE_REQUIRE": "true"}, []),
    ("RQ08", {"CUDA_VERSION": "11.6", "NVIDIA_REQUIRE_BRAND": "brand=tesla", "NVIDIA_DISABLE_REQUIRE": "true"}, []),
])
def test_requirements(case_id, env, expected):
    assert Counter(image.requirements(env, image.is_legacy(env))) == Counter(expected)


def test_requirements_order_is_environment_order_with_legacy_last():
    env = {"NVIDIA_REQUIRE_B": "b", "CUDA_VERSION": "10.1", "NVIDIA_REQUIRE_A": "a", "NVIDIA_REQUIRE_": "x"}
    assert image.requirements(env, True) == ("b", "a", "x", "cuda>=10.1")


@pytest.mark.parametrize("value,disabled", [
    ("true", True), ("1", True), ("t", True), ("T", True), ("TRUE", True), ("True", True),
    ("yes", False), (" true", False), ("false", False), ("0", False), ("tRuE", False),
])
def test_disable_require_B25_B26(value, disabled):
    env = {"NVIDIA_REQUIRE_A": "a", "NVIDIA_DISABLE_REQUIRE": value}
    assert image.requirements(env, False) == (() if disabled else ("a",))


def test_disable_require_config_forces_the_variable_B27():
    env = image.env_map(["NVIDIA_REQUIRE_A=a", "NVIDIA_DISABLE_REQUIRE=false"], disable_require=True)
    assert image.requirements(env, False) == ()


G1, G2, G3 = "GPU-12345", "GPU-67890", "MIG-12345"
DRG, DRGA = "DOCKER_RESOURCE_GPUS", "DOCKER_RESOURCE_GPUS_ADDITIONAL"
NVD = "NVIDIA_VISIBLE_DEVICES"

EV = [
    ("EV01", "", {}, None), ("EV02", "", {NVD: ""}, None), ("EV03", "", {NVD: "void"}, None),
    ("EV04", "", {NVD: "none"}, [""]), ("EV05", "", {NVD: G1}, [G1]),
    ("EV06", "", {NVD: G1, "CUDA_VERSION": "legacy"}, [G1]),
    ("EV07", "", {"CUDA_VERSION": "legacy"}, ["all"]), ("EV08", "", {DRG: G2}, None),
    ("EV09", "", {NVD: "", DRG: G2}, None), ("EV10", "", {NVD: "void", DRG: G2}, None),
    ("EV11", "", {NVD: "none", DRG: G2}, [""]), ("EV12", "", {NVD: G1, DRG: G2}, [G1]),
    ("EV13", "", {NVD: G1, DRG: G2, "CUDA_VERSION": "legacy"}, [G1]),
    ("EV14", "", {DRG: G2, "CUDA_VERSION": "legacy"}, ["all"]),
    ("EV15", DRG, {}, None), ("EV16", DRG, {DRG: ""}, None), ("EV17", DRG, {DRG: "void"}, None),
    ("EV18", DRG, {DRG: "none"}, [""]), ("EV19", DRG, {DRG: G1}, [G1]),
    ("EV20", DRG, {DRG: G1, "CUDA_VERSION": "legacy"}, [G1]), ("EV21", DRG, {DRG: G2}, [G2]),
    ("EV22", DRG, {NVD: G1, DRG: G2}, [G2]), ("EV23", DRGA, {NVD: G1, DRGA: G2}, [G2]),
    ("EV24", f"{DRG},{DRGA}", {NVD: G1, DRG: G3, DRGA: G2}, [G3, G2]),
    ("EV25", f"{DRG},{DRGA}", {NVD: G1, DRGA: G2}, [G2]),
]


@pytest.mark.parametrize("case_id,pref,env,expected", EV, ids=[c[0] for c in EV])
def test_devices_from_envvar(case_id, pref, env, expected):
    names = image.device_variables(env, pref)
    assert image.devices_from_env(env, names, image.is_legacy(env)) == expected


@pytest.mark.parametrize("value,expected", [
    ("all", ["all"]), (" all ", ["all"]), ("0,all", ["all"]), ("none", [""]), ("0,none", [""]),
    ("none,all", [""]), ("all,none", ["all"]), ("0, 1 ,,2", ["0", "1", "2"]), ("ALL", ["ALL"]),
    ("", None), (" ", None), (",", None), ("void", None), ("0,void", None),
    ("\t0\n,\r1\v", ["0", "1"]), ("\x1c0", ["\x1c0"]), ("\u00a00\u3000", ["0"]),
    ("nvidia.com/gpu=0", ["nvidia.com/gpu=0"]),
])
def test_visible_devices_values(value, expected):
    assert image.devices_from_env({NVD: value}, [NVD], False) == expected


@pytest.mark.parametrize("value,expected", [
    # Deviation (docs/compatibility.md): upstream gives ["", "1", "0"] and ["", "0", "1", "2"].
    ("0,1,0", ["0", "1"]), ("1,0,1,2", ["1", "0", "2"]), ("0,0", ["0"]),
])
def test_repeated_ids_are_listed_once(value, expected):
    assert image.devices_from_env({NVD: value}, [NVD], False) == expected


def test_legacy_set_but_empty_is_no_request():
    assert image.devices_from_env({NVD: " ", "CUDA_VERSION": "11.0"}, [NVD], True) is None


MT = [
    ("MT01", [], []),
    ("MT02", dev_mounts("GPU0", source="/not/dev/null"), []),
    ("MT03", [Mount(destination="/other/prefix/GPU0", source="/dev/null")], []),
    ("MT04", [Mount(destination=R, source="/dev/null")], []),
    ("MT05", dev_mounts("GPU0", "GPU1"), ["GPU0", "GPU1"]),
    ("MT06", dev_mounts("GPU0-MIG0/0/1", "GPU1-MIG0/0/1"), ["GPU0-MIG0/0/1", "GPU1-MIG0/0/1"]),
    ("MT07", dev_mounts("GPU0", "nvidia.com/gpu=all", "GPU1"), ["GPU0", "nvidia.com/gpu=all", "GPU1"]),
    ("MT08", dev_mounts("GPU0", "imex/0", "GPU1"), ["GPU0", "GPU1"]),
]


@pytest.mark.parametrize("case_id,mounts,expected", MT, ids=[c[0] for c in MT])
def test_visible_devices_from_mounts(case_id, mounts, expected):
    assert list(image.mount_requests(mounts).devices) == expected


@pytest.mark.parametrize("mount,expected", [
    (Mount(destination=f"{R}/GPU0", source="/dev/../dev/null"), ["GPU0"]),
    (Mount(destination=f"{R}/GPU0", source="/dev/null/"), ["GPU0"]),
    (Mount(destination=f"{R}/GPU0", source="//dev/null"), ["GPU0"]),
    (Mount(destination=f"{R}/GPU0", source="dev/null"), []),
    (Mount(destination="/run/nvidia-container-devices/GPU0", source="/dev/null"), []),
    (Mount(destination=f"{R}/GPU0/", source="/dev/null"), ["GPU0"]),
    (Mount(destination=f"{R}GPU0", source="/dev/null"), ["GPU0"]),
    (Mount(destination=f"{R}/a/../GPU3", source="/dev/null"), ["GPU3"]),
    (Mount(destination=f"{R}-x/GPU0", source="/dev/null"), ["-x/GPU0"]),
    (Mount(destination=f"{R}/0,1", source="/dev/null"), ["0,1"]),
    (Mount(destination=f"{R}/cdi/nvidia.com/gpu=0", source="/dev/null"), ["nvidia.com/gpu=0"]),
    (Mount(destination=f"{R}/cdi/nvidia.com/gpu/0", source="/dev/null"), ["nvidia.com/gpu=0"]),
    (Mount(destination=f"{R}/cdi/nvidia.com/gpu/0/1", source="/dev/null"), ["nvidia.com/gpu=0/1"]),
    (Mount(destination=f"{R}/imex/", source="/dev/null"), ["imex"]),
])
def test_mount_request_forms_B47_B61(mount, expected):
    assert list(image.mount_requests([mount]).devices) == expected


def test_mount_dedupe_by_cleaned_destination_B51():
    mounts = dev_mounts("GPU0", "GPU0/", "GPU1")
    assert image.mount_requests(mounts).devices == ("GPU0", "GPU1")


def test_invalid_cdi_mount_warns_B55():
    req = image.mount_requests(dev_mounts("cdi/nvidia.com"))
    assert req.devices == ()
    assert req.warnings == ("Ignoring invalid mount request for CDI device cdi/nvidia.com: "
                            "invalid mount CDI device request: cdi/nvidia.com",)


def test_one_letter_cdi_vendor_is_refused_cleanly_B56():
    with pytest.raises(ImageError) as exc:
        image.mount_requests(dev_mounts("cdi/a/b=c"))
    assert "runtime error: slice bounds out of range [1:0]" in str(exc.value)
    assert "\n" not in str(exc.value)


VD = [
    ("VD01", ["GPU0", "GPU1"], "GPU2,GPU3", {}, False, False, True, "", ["GPU0", "GPU1"]),
    ("VD02", [], "GPU0,GPU1", {}, False, False, True, "", None),
    ("VD03", [], "GPU0,GPU1", {}, True, False, True, "", ["GPU0", "GPU1"]),
    ("VD04", [], "GPU0,GPU1", {}, False, True, True, "", ["GPU0", "GPU1"]),
    ("VD05", ["GPU0", "GPU1"], "GPU2,GPU3", {}, False, True, False, "", ["GPU2", "GPU3"]),
    ("VD06", ["GPU0", "GPU1"], "GPU2,GPU3", {}, False, False, False, "", None),
    ("VD07", [], None, {DRG: G1}, True, False, True, DRG, [G1]),
    ("VD08", [], None, {DRG: G1}, False, True, True, DRG, [G1]),
    ("VD09", [], None, {DRG: G1}, False, False, True, DRG, None),
    ("VD10", [], None, {DRG: G1, DRGA: G2}, True, False, True, f"{DRG},{DRGA}", [G1, G2]),
    ("VD11", [], G1, {}, True, False, True, DRG, [G1]),
]


@pytest.mark.parametrize("case_id,mounts,nvd,other,priv,unpriv,accept_mounts,pref,expected", VD,
                         ids=[c[0] for c in VD])
def test_visible_devices_with_privilege(case_id, mounts, nvd, other, priv, unpriv, accept_mounts, pref, expected):
    env = [f"{k}={v}" for k, v in other.items()]
    if nvd is not None:
        env.append(f"{NVD}={nvd}")
    cfg = config(accept_envvar_unprivileged=unpriv, accept_volume_mounts=accept_mounts, swarm_resource=pref)
    warnings = []
    d = decide(cfg, make_spec(env, priv, dev_mounts(*mounts)), warn=warnings.append)
    assert (None if d.devices is None else list(d.devices)) == expected
    if expected is None and nvd:
        assert warnings == ["Ignoring devices requested by environment variable(s) in unprivileged container: "
                            f"[{NVD}]"]


def test_unprivileged_warning_names_swarm_variables():
    cfg = config(accept_envvar_unprivileged=False, swarm_resource="A_GPU,B_GPU")
    warnings = []
    d = decide(cfg, make_spec(["A_GPU=0", "B_GPU=1"]), warn=warnings.append)
    assert d.devices is None
    assert warnings == ["Ignoring devices requested by environment variable(s) in unprivileged container: "
                        "[A_GPU B_GPU]"]


@pytest.mark.parametrize("case_id,env,expected", [
    ("IX01", {}, None),
    ("IX02", {"CUDA_VERSION": "1.2.3"}, None),
    ("IX03", {"NVIDIA_IMEX_CHANNELS": "3,4"}, ["3", "4"]),
    ("IX04", {"CUDA_VERSION": "1.2.3", "NVIDIA_IMEX_CHANNELS": "3,4"}, ["3", "4"]),
])
def test_imex_channels_from_envvar(case_id, env, expected):
    assert image.imex_from_env(env, image.is_legacy(env)) == expected


@pytest.mark.parametrize("value,expected", [
    ("3,4", ("3", "4")), (" 3 , 4 ", ("3", "4")), ("all", ()), ("none", ("",)), ("void", ()),
    ("", ()), ("3,void", ()), ("3,all", ()), ("all,3", ()), ("3,3", ("3",)),
])
def test_imex_channels_B62_B64(value, expected):
    d = decide(config(), make_spec([f"{NVD}=0", f"NVIDIA_IMEX_CHANNELS={value}"]))
    assert d.imex_channels == expected


def test_imex_mounts_win_over_env_B59():
    cfg = config(accept_volume_mounts=True)
    d = decide(cfg, make_spec(["NVIDIA_IMEX_CHANNELS=1,2"], mounts=dev_mounts("GPU0", "imex/5")))
    assert (d.devices, d.imex_channels) == (("GPU0",), ("5",))


def test_imex_env_ignored_when_unprivileged_B65():
    cfg = config(accept_volume_mounts=True, accept_envvar_unprivileged=False)
    warnings = []
    d = decide(cfg, make_spec(["NVIDIA_IMEX_CHANNELS=1"], mounts=dev_mounts("GPU0")), warn=warnings.append)
    assert (d.devices, d.imex_channels) == (("GPU0",), ())
    assert warnings == ["Ignoring request by environment variable(s) in unprivileged container: "
                        "[NVIDIA_IMEX_CHANNELS]"]


def test_ignore_imex_channel_requests_B66():
    cfg = config(accept_volume_mounts=True, ignore_imex_channel_requests=True)
    d = decide(cfg, make_spec([f"{NVD}=0", "NVIDIA_IMEX_CHANNELS=1"], mounts=dev_mounts("imex/2")))
    assert d.imex_channels == ()


def test_imex_only_mounts_do_not_make_a_gpu_container_B58():
    cfg = config(accept_volume_mounts=True)
    assert decide(cfg, make_spec([], mounts=dev_mounts("imex/0"))).devices is None


@pytest.mark.parametrize("entries,expected", [
    (["A=1", "A=2"], {"A": "2"}), (["A=b=c"], {"A": "b=c"}), (["=x"], {"": "x"}),
    (["NVIDIA_VISIBLE_DEVICES =0"], {"NVIDIA_VISIBLE_DEVICES ": "0"}),
])
def test_env_map(entries, expected):
    assert image.env_map(entries) == expected


@pytest.mark.parametrize("entry", ["BADENTRY", "", "NVIDIA_VISIBLE_DEVICES"])
def test_env_entry_without_equals_is_fatal_B15(entry):
    with pytest.raises(ImageError) as exc:
        image.env_map(["A=1", entry])
    assert str(exc.value) == f"invalid environment variable: {entry}"


def test_mig_checked_before_capabilities_B74():
    with pytest.raises(ImageError) as exc:
        decide(config(), make_spec([f"{NVD}=0", "NVIDIA_MIG_CONFIG_DEVICES=all",
                                    "NVIDIA_DRIVER_CAPABILITIES=foo"]))
    assert str(exc.value) == "cannot set MIG_CONFIG_DEVICES in non privileged container"


def test_capabilities_checked_before_requirements_B75():
    with pytest.raises(ImageError) as exc:
        decide(config(), make_spec(["CUDA_VERSION=x", "NVIDIA_DRIVER_CAPABILITIES=foo"]))
    assert str(exc.value) == "unsupported capabilities found in 'foo' (allowed '')"


def test_mig_values_are_verbatim_B71():
    d = decide(config(), make_spec([f"{NVD}=0", "NVIDIA_MIG_MONITOR_DEVICES= 0, 1 "], privileged=True))
    assert d.mig_monitor == " 0, 1 "
