"""Plan → library inputs and the reproduce blockers (pure)."""

from __future__ import annotations


import pytest

from hook.nvc import InjectionError, reproduce_blocker
from hook.nvc.rules import build, compat_token, parse_user
from hook.plan import GlobalOptions, Plan

BASE = Plan(options=GlobalOptions(), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig", no_cgroups=False,
            devices=("all",), mig_config="", mig_monitor="", imex_channels=(), capabilities=("compute", "utility"),
            requirements=(), pid=4242, rootfs="/b/rootfs")
NEW = (1, 17, 8)


def test_default_request():
    r = build(BASE, NEW)
    assert (r.root, r.ldcache, r.uid, r.gid, r.init_opts, r.container_opts, r.driver_opts, r.pid, r.rootfs,
            r.ldconfig, r.debug_file) == (
        None, None, None, None, "load-kmods", "cuda-compat-mode=ldconfig compute utility supervised", None,
        4242, "/b/rootfs", "@/sbin/ldconfig", None)


def test_all_global_options():
    plan = BASE.replace(
        options=GlobalOptions(root="/drv", load_kmods=True, no_create_imex_channels=True, debug="/tmp/x.log",
                                    ldcache="/etc/ld.so.cache", user="0:44"),
        no_cgroups=True, capabilities=("compat32", "display", "graphics", "ngx", "video"), cuda_compat_mode=None,
        ldconfig="")
    r = build(plan, NEW)
    assert (r.root, r.ldcache, r.uid, r.gid, r.init_opts, r.container_opts, r.debug_file, r.ldconfig) == (
        "/drv", "/etc/ld.so.cache", 0, 44, "load-kmods no-create-imex-channels",
        "cuda-compat-mode=mount no-cgroups compat32 display graphics ngx video supervised", "/tmp/x.log", None)


def test_options_before_1_17():
    assert build(BASE.replace(options=GlobalOptions(load_kmods=False)), (1, 14, 0)).init_opts is None
    with pytest.raises(InjectionError,
                       match="^nvidia-container-cli: initialization error: no-create-imex-channels needs"):
        build(BASE.replace(options=GlobalOptions(no_create_imex_channels=True)), (1, 16, 2))


@pytest.mark.parametrize("mode, version, token", [
    ("disabled", (1, 17, 7), "cuda-compat-mode=disabled"), ("ldconfig", (1, 20, 0), "cuda-compat-mode=ldconfig"),
    (None, (1, 17, 7), "cuda-compat-mode=mount"), ("disabled", (1, 17, 6), "no-cntlibs"),
    ("mount", (1, 17, 6), None), ("ldconfig", (1, 14, 0), None), (None, (1, 4, 0), None),
])
def test_compat_token(mode, version, token):
    assert compat_token(mode, version) == token


def test_input_errors():
    for rootfs in ("rootfs", "/", ""):
        with pytest.raises(InjectionError, match="^nvidia-container-cli: input error: invalid rootfs directory$"):
            build(BASE.replace(rootfs=rootfs), NEW)
    with pytest.raises(InjectionError, match="^nvidia-container-cli: input error: too many requirements$"):
        build(BASE.replace(requirements=("cuda>=1",) * 33), NEW)
    build(BASE.replace(requirements=("cuda>=1",) * 32), NEW)


def test_parse_user():
    assert parse_user("") == (None, None)
    assert parse_user("0") == (0, 0)
    assert parse_user("root:root") == (0, 0)
    assert parse_user("1000:44") == (1000, 44)
    with pytest.raises(InjectionError,
                       match="^nvidia-container-cli: input error: parse user/group failed: nosuchuser-x"):
        parse_user("nosuchuser-x")


def test_blockers(tmp_path):
    assert reproduce_blocker(BASE) is None
    assert reproduce_blocker(BASE.replace(options=GlobalOptions(no_pivot=True))) == (
        "no-pivot is set (the CLI implements it through a private library struct field)")
    assert reproduce_blocker(BASE.replace(pid=0)) == (
        "pid 0 is not a positive 32-bit pid (the CLI would run in standalone mode)")
    assert reproduce_blocker(BASE.replace(pid=2**64 - 5)).startswith("pid 18446744073709551611 ")
    compat = tmp_path / "usr" / "local" / "cuda" / "compat"
    compat.mkdir(parents=True)
    plan = BASE.replace(rootfs=str(tmp_path))
    assert reproduce_blocker(plan) is None
    (compat / "libcuda.so.560.28.03").write_text("")
    assert reproduce_blocker(plan) == ("the container has CUDA forward-compat libraries (libcuda.so.560.28.03) "
                                       "that only the CLI filters (cuda-compat-mode=ldconfig)")
    assert reproduce_blocker(plan.replace(cuda_compat_mode="disabled")) is None
    assert "cuda-compat-mode=default" in reproduce_blocker(plan.replace(cuda_compat_mode=None))
