"""The configure sequence against the fake library (dry run: calls recorded, no system effects)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from nvc_testlib import FAKE_LIB, FAKE_LIB_101, FAKE_LIB_105, wait_single_threaded
from hook.nvc import InjectionError, inject
from hook.nvc.configure import load
from hook.nvc.configure import configure
from hook.plan import GlobalOptions, Plan

BASE = Plan(options=GlobalOptions(), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig", no_cgroups=False,
            devices=("all",), mig_config="", mig_monitor="", imex_channels=(), capabilities=("compute", "utility"),
            requirements=(), pid=4242, rootfs="/b/rootfs")
SEQUENCE = ["nvc_context_new", "nvc_config_new", "nvc_container_config_new", "nvc_init", "nvc_container_new",
            "nvc_driver_info_new", "nvc_device_info_new", "nvc_driver_mount", "nvc_device_mount", "nvc_device_mount",
            "nvc_ldcache_update"]
CLEANUP = ["nvc_shutdown", "nvc_container_free", "nvc_device_info_free", "nvc_driver_info_free",
           "nvc_container_config_free", "nvc_config_free", "nvc_context_free"]
NO_LIVE = {"ctx": 0, "cfg": 0, "ccfg": 0, "cnt": 0, "drv": 0, "devinfo": 0}
GPU0 = {"index": 0, "uuid": "GPU-00000000-0000-0000-0000-000000000000"}
GPU1 = {"index": 1, "uuid": "GPU-00000000-0000-0000-0000-000000000001"}


def run(plan: Plan, lib=FAKE_LIB) -> None:
    inject(plan, library_path=str(lib), root="")


def test_default_sequence(fake):
    run(BASE)
    assert fake.calls() == SEQUENCE + CLEANUP
    init = fake.first("nvc_init")["args"]
    assert init["cfg"] == {"root": None, "ldcache": None, "uid": 4294967295, "gid": 4294967295, "imex": []}
    assert (init["opts"], init["flags"], init["debug_file"]) == ("load-kmods", ["load-kmods"], None)
    assert fake.first("nvc_container_config_new")["args"] == {"pid": 4242, "rootfs": "/b/rootfs"}
    cnt = fake.first("nvc_container_new")["args"]
    assert cnt["ccfg"] == {"pid": 4242, "rootfs": "/b/rootfs", "bins_dir": None, "libs_dir": None,
                           "libs32_dir": None, "cudart_dir": None, "ldconfig": "@/sbin/ldconfig"}
    assert cnt["opts"] == "cuda-compat-mode=ldconfig compute utility supervised"
    assert (cnt["flags"], cnt["compat_mode"]) == (["supervised", "utility", "compute", "cuda-compat-mode=ldconfig"],
                                                  "ldconfig")
    assert fake.first("nvc_driver_info_new")["args"]["opts"] is None
    assert fake.first("nvc_device_info_new")["args"]["opts"] is None
    assert [r["args"]["gpu"] for r in fake.all("nvc_device_mount")] == [GPU0, GPU1]
    ld = fake.first("nvc_ldcache_update")["args"]
    assert (ld["argv"][0], ld["host_binary"], ld["sigchld"], ld["threads"]) == ("/sbin/ldconfig", True, "default", 1)
    assert fake.summary()["live"] == NO_LIVE


def test_every_global_option(fake):
    plan = BASE.replace(
        options=GlobalOptions(root="/drv", load_kmods=False, no_create_imex_channels=True, debug="/tmp/d.log",
                                    ldcache="/etc/ld.so.cache", user="1000:44"),
        no_cgroups=True, devices=("1",), capabilities=("display", "graphics"), ldconfig="", cuda_compat_mode="disabled")
    run(plan)
    init = fake.first("nvc_init")["args"]
    assert init["cfg"] == {"root": "/drv", "ldcache": "/etc/ld.so.cache", "uid": 1000, "gid": 44, "imex": []}
    assert (init["opts"], init["debug_file"]) == ("no-create-imex-channels", "/tmp/d.log")
    cnt = fake.first("nvc_container_new")["args"]
    assert cnt["opts"] == "cuda-compat-mode=disabled no-cgroups display graphics supervised"
    assert cnt["ccfg"]["ldconfig"] is None
    assert [r["args"]["gpu"] for r in fake.all("nvc_device_mount")] == [GPU1]


def test_debug_env_restored_and_sigchld_default_during_calls(fake, monkeypatch):
    monkeypatch.setenv("NVC_DEBUG_FILE", "/keep")
    handler = lambda *a: None  # noqa: E731
    old = signal.signal(signal.SIGCHLD, handler)
    try:
        run(BASE.replace(options=GlobalOptions(debug="/tmp/x")))
        assert signal.getsignal(signal.SIGCHLD) is handler
    finally:
        signal.signal(signal.SIGCHLD, old)
    import os
    assert os.environ["NVC_DEBUG_FILE"] == "/keep"
    assert fake.first("nvc_init")["args"]["debug_file"] == "/tmp/x"
    assert fake.first("nvc_ldcache_update")["args"]["sigchld"] == "default"


def test_none_selects_nothing(fake):
    run(BASE.replace(devices=("",), requirements=("arch>=sm_80",)))  # no device: arch term true
    assert "nvc_device_mount" not in fake.calls()
    assert fake.calls() == SEQUENCE[:8] + ["nvc_ldcache_update"] + CLEANUP


@pytest.mark.parametrize("fn, stage", [
    ("nvc_init", "initialization"), ("nvc_container_new", "container"), ("nvc_driver_info_new", "detection"),
    ("nvc_device_info_new", "detection"), ("nvc_driver_mount", "mount"), ("nvc_device_mount", "mount"),
    ("nvc_ldcache_update", "ldcache"),
])
def test_library_errors(fake, monkeypatch, fn, stage):
    monkeypatch.setenv("FAKE_NVC_FAIL", f"{fn}@1=boom\nsecond line")
    with pytest.raises(InjectionError) as exc:
        run(BASE)
    assert str(exc.value) == f"nvidia-container-cli: {stage} error: boom second line"
    calls = fake.calls()
    assert calls[calls.index(fn) + 1] == "nvc_error"
    assert calls[-len(CLEANUP):] == CLEANUP
    assert fake.summary()["live"] == NO_LIVE


def test_second_device_mount_fails(fake, monkeypatch):
    monkeypatch.setenv("FAKE_NVC_FAIL", "nvc_device_mount@2")
    with pytest.raises(InjectionError, match="^nvidia-container-cli: mount error: nvc_device_mount: injected failure$"):
        run(BASE)
    assert [r["ret"] for r in fake.all("nvc_device_mount")] == [0, -1]
    assert "nvc_ldcache_update" not in fake.calls()


@pytest.mark.parametrize("fn", ["nvc_context_new", "nvc_config_new", "nvc_container_config_new"])
def test_allocation_failures(fake, monkeypatch, fn):
    monkeypatch.setenv("FAKE_NVC_FAIL", fn)
    with pytest.raises(InjectionError) as exc:
        run(BASE)
    assert str(exc.value) == "nvidia-container-cli: memory allocation failed: Cannot allocate memory"
    assert "nvc_init" not in fake.calls()
    assert fake.summary()["live"] == NO_LIVE


def test_real_library_checks(fake, monkeypatch):
    with pytest.raises(InjectionError, match="^nvidia-container-cli: input error: invalid rootfs directory$"):
        run(BASE.replace(rootfs="/"))
    monkeypatch.setenv("FAKE_NVC_VERSION", "1.17.6")  # cuda-compat-mode is not an option before 1.17.7
    run(BASE.replace(cuda_compat_mode="disabled"))
    assert fake.first("nvc_container_new")["args"]["opts"] == "no-cntlibs compute utility supervised"
    fake.clear()
    run(BASE)
    assert fake.first("nvc_container_new")["args"]["opts"] == "compute utility supervised"


def test_1_17_7_always_gets_an_explicit_compat_mode(fake, monkeypatch):
    monkeypatch.setenv("FAKE_NVC_VERSION", "1.17.7")
    monkeypatch.setenv("FAKE_NVC_QUIRKS", "compat-default-wipe")
    run(BASE.replace(cuda_compat_mode=None))
    cnt = fake.first("nvc_container_new")["args"]
    assert (cnt["opts"], cnt["compat_mode"]) == ("cuda-compat-mode=mount compute utility supervised", "mount")


def test_requirements_per_device(fake, sim_config):
    sim_config("gpu.count = 2", "gpu.1.arch = 8.0", "gpu.1.brand = GeForce")
    run(BASE.replace(devices=("0",), requirements=("arch>=9.0", "cuda>=12.4,driver>=550")))
    with pytest.raises(InjectionError) as exc:
        run(BASE.replace(requirements=("cuda>=12.4", "arch>=9.0 brand=tesla")))
    assert str(exc.value) == ("nvidia-container-cli: requirement error: unsatisfied condition: arch>=9.0 "
                              "brand=tesla (found arch=8.0, brand=GeForce on GPU 1 "
                              "(GPU-00000000-0000-0000-0000-000000000001))")
    assert "nvc_driver_mount" not in fake.calls()[-9:]


def test_requirement_with_driver_and_cuda(fake, sim_config):
    sim_config("driver.version = 470.82.01", "driver.cuda_version = 11.4")
    with pytest.raises(InjectionError) as exc:
        run(BASE.replace(requirements=("cuda>=12.0",)))
    assert str(exc.value) == ("nvidia-container-cli: requirement error: unsatisfied condition: cuda>=12.0 "
                              "(found cuda=11.4), please update your driver to a newer version, or use an "
                              "earlier cuda container")
    with pytest.raises(InjectionError, match=r"^nvidia-container-cli: requirement error: invalid expression$"):
        run(BASE.replace(requirements=("arch=x86_64",)))


def test_report(fake, sim_config):
    sim_config("gpu.count = 3")
    lib = load(str(FAKE_LIB), "")
    try:
        report = configure(BASE.replace(devices=("2", "0"), requirements=("cuda>=12",)), lib)
    finally:
        lib.close()
    assert report["selection"].gpus == (2, 0)
    assert report["checked"] == [("cuda>=12", "GPU 2 (GPU-00000000-0000-0000-0000-000000000002)"),
                              ("cuda>=12", "GPU 0 (GPU-00000000-0000-0000-0000-000000000000)")]
    assert report["version"] == "1.17.8"


MIG_SIM = ("gpu.count = 2", "gpu.0.mig_capable = 1", "gpu.0.mig.count = 2",
           "gpu.0.mig.0.uuid = MIG-aaaaaaaa-0000-0000-0000-000000000000", "gpu.0.mig.0.gi = 1",
           "gpu.0.mig.1.uuid = MIG-bbbbbbbb-0000-0000-0000-000000000000", "gpu.0.mig.1.gi = 2")


def test_mig_devices(fake, sim_config):
    sim_config(*MIG_SIM)
    run(BASE.replace(devices=("1", "0:1")))
    assert [r["args"]["gpu"]["index"] for r in fake.all("nvc_device_mount")] == [1, 0]
    assert [r["args"]["mig"] for r in fake.all("nvc_mig_device_access_caps_mount")] == [
        {"gpu": 0, "index": 1, "uuid": "MIG-bbbbbbbb-0000-0000-0000-000000000000"}]


def test_mig_config_and_monitor(fake, sim_config, monkeypatch):
    sim_config(*MIG_SIM)
    monkeypatch.setenv("FAKE_NVC_STRICT", "1")
    run(BASE.replace(mig_config="all", mig_monitor="all"))
    calls = fake.calls()
    assert calls[calls.index("nvc_driver_mount"):calls.index("nvc_ldcache_update")] == [
        "nvc_driver_mount", "nvc_device_mount", "nvc_device_mount", "nvc_mig_config_global_caps_mount",
        "nvc_device_mig_caps_mount", "nvc_mig_monitor_global_caps_mount", "nvc_device_mig_caps_mount"]
    assert [r["args"]["gpu"]["index"] for r in fake.all("nvc_device_mig_caps_mount")] == [0, 0]
    with pytest.raises(InjectionError) as exc:
        run(BASE.replace(devices=("0:0",), mig_config="all"))
    assert str(exc.value) == ("nvidia-container-cli: mig-config error: cannot enable mig-config with specific "
                              "MIG devices selected")


def test_imex_channels(fake):
    run(BASE.replace(imex_channels=("3", "0,3")))
    assert fake.first("nvc_init")["args"]["cfg"]["imex"] == [3, 0, 3]
    assert [r["args"]["chan"] for r in fake.all("nvc_imex_channel_mount")] == [{"id": 3}, {"id": 0}, {"id": 3}]
    with pytest.raises(InjectionError) as exc:
        run(BASE.replace(imex_channels=("x",)))
    assert str(exc.value) == "nvidia-container-cli: error parsing IMEX info: unsupported IMEX channel value: x"


@pytest.mark.parametrize("lib, version", [(FAKE_LIB_105, "1.14.0"), (FAKE_LIB_101, "1.4.0")])
def test_old_layouts(fake, lib, version):
    run(BASE, lib)
    assert fake.calls() == SEQUENCE + CLEANUP
    assert "imex" not in fake.first("nvc_init")["args"]["cfg"]
    with pytest.raises(InjectionError) as exc:
        run(BASE.replace(imex_channels=("1",)), lib)
    assert str(exc.value) == (f"nvidia-container-cli: initialization error: IMEX channels need "
                              f"libnvidia-container >= 1.15 (found {version})")


def test_unknown_device(fake):
    with pytest.raises(InjectionError, match="^nvidia-container-cli: device error: 5: unknown device$"):
        run(BASE.replace(devices=("0", "5")))
    assert "nvc_driver_mount" not in fake.calls()


def test_refuses_multi_threaded_process(fake):
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        with pytest.raises(InjectionError) as exc:
            run(BASE)
    finally:
        stop.set()
        t.join()
    assert str(exc.value) == ("nvidia-container-cli: initialization error: the library injector needs a "
                              "single-threaded process (2 threads)")
    assert fake.calls() == []


def test_fake_mount_refuses_threads_like_setns(fake):
    lib = load(str(FAKE_LIB), "")
    f, l = lib.ffi, lib.lib
    ctx, cfg = l.nvc_context_new(), l.nvc_config_new()
    assert l.nvc_init(ctx, cfg, f.NULL) == 0
    rootfs = f.new("char[]", b"/r")
    ccfg = l.nvc_container_config_new(77, rootfs)
    cnt = l.nvc_container_new(ctx, ccfg, b"supervised utility")
    drv = l.nvc_driver_info_new(ctx, f.NULL)
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert l.nvc_driver_mount(ctx, cnt, drv) == -1
    finally:
        stop.set()
        t.join()
    assert lib.error(ctx) == "namespace association failed: /proc/77/ns/mnt: invalid argument"
    wait_single_threaded()
    assert l.nvc_driver_mount(ctx, cnt, drv) == 0
    for fn, h in (("nvc_driver_info_free", drv), ("nvc_container_free", cnt), ("nvc_container_config_free", ccfg)):
        getattr(l, fn)(h)
    assert l.nvc_shutdown(ctx) == 0
    l.nvc_config_free(cfg)
    l.nvc_context_free(ctx)
    lib.close()
    assert fake.summary()["live"] == NO_LIVE


def test_fake_validates_like_the_library(fake):
    lib = load(str(FAKE_LIB), "")
    f, l = lib.ffi, lib.lib
    ctx = l.nvc_context_new()
    assert l.nvc_driver_info_new(ctx, f.NULL) == f.NULL
    assert lib.error(ctx) == "context uninitialized"
    cfg = l.nvc_config_new()
    empty = f.new("char[]", b"")
    cfg.root = empty
    assert l.nvc_init(ctx, cfg, f.NULL) == -1 and lib.error(ctx) == "invalid argument"
    cfg.root = f.NULL
    assert l.nvc_init(ctx, cfg, b"load-kmods no-such") == -1 and lib.error(ctx) == "invalid option: no-such"
    assert l.nvc_init(ctx, cfg, b"x" * 256) == -1 and lib.error(ctx) == "too many options"
    assert l.nvc_init(ctx, cfg, b"") == 0
    rootfs = f.new("char[]", b"/r")
    ccfg = l.nvc_container_config_new(1, rootfs)
    for opts, msg in ((b"utility", "invalid mode of operation"), (b"supervised standalone", "invalid mode of operation"),
                      (b"supervised cuda-compat-mode=mount cuda-compat-mode=ldconfig",
                       "only one cuda-compat-mode can be specified at a time"),
                      (b"supervised no-cntlibs", "invalid option: no-cntlibs")):
        assert l.nvc_container_new(ctx, ccfg, opts) == f.NULL
        assert lib.error(ctx) == msg
    assert l.nvc_driver_info_new(ctx, b"no-uvm no-modeset") != f.NULL
    l.nvc_shutdown(ctx)
    l.nvc_container_config_free(ccfg)
    l.nvc_config_free(cfg)
    l.nvc_context_free(ctx)
    lib.close()
    assert fake.summary()["live"] == {**NO_LIVE, "drv": 1}


def test_blocked_plans_are_refused(fake):
    with pytest.raises(InjectionError) as exc:
        run(BASE.replace(options=GlobalOptions(no_pivot=True)))
    assert str(exc.value) == ("nvidia-container-cli: input error: the library injector cannot reproduce this request "
                              "exactly: no-pivot is set (the CLI implements it through a private library struct field)")
    assert fake.calls() == []


def test_default_path_when_the_hook_has_none(fake, monkeypatch):
    monkeypatch.delenv("PATH")
    run(BASE)  # the fake's nvc_driver_info_new fails without PATH, like the real library
    import os
    assert "PATH" not in os.environ
    assert fake.first("nvc_driver_info_new")["ret"] == "drv#1"


def test_unknown_cuda_version_makes_cuda_terms_true(fake, sim_config):
    sim_config("driver.cuda_version =")
    run(BASE.replace(requirements=("cuda>=99.0",)))
    assert "nvc_ldcache_update" in fake.calls()


@pytest.mark.parametrize("field, plan", [
    ("rootfs directory", BASE.replace(rootfs="/b/roo\0tfs")),
    ("root", BASE.replace(options=GlobalOptions(root="/drv\0/x"))),
    ("ldcache", BASE.replace(options=GlobalOptions(ldcache="/etc/ld.so.cache\0"))),
    ("ldconfig", BASE.replace(ldconfig="@/sbin/ldconfig\0.real")),
    ("debug file", BASE.replace(options=GlobalOptions(debug="/tmp/\0d.log"))),
])
def test_a_nul_byte_is_an_input_error_before_any_call(fake, field, plan):
    with pytest.raises(InjectionError) as exc:
        run(plan)
    assert str(exc.value) == f"nvidia-container-cli: input error: invalid {field}: contains a NUL byte"
    assert fake.calls() == []


def test_fake_helpers_are_forked_at_init_and_reaped_at_shutdown(fake, monkeypatch):
    import os

    monkeypatch.setenv("FAKE_NVC_HELPERS", "1")
    lib = load(str(FAKE_LIB), "")
    try:
        ffi, nvc = lib.ffi, lib.lib
        ctx = nvc.nvc_context_new()
        assert nvc.nvc_init(ctx, ffi.NULL, ffi.NULL) == 0
        assert os.waitpid(-1, os.WNOHANG) == (0, 0)  # two live children, none exited
        assert nvc.nvc_shutdown(ctx) == 0
        with pytest.raises(ChildProcessError):  # both reaped by nvc_shutdown
            os.waitpid(-1, os.WNOHANG)
        nvc.nvc_context_free(ctx)
    finally:
        lib.close()


@pytest.mark.parametrize("proc_task", [True, False])
def test_thread_count_follows_the_threads(monkeypatch, proc_task):
    """From the link count of /proc/self/task, else from /proc/self/status."""
    from hook.nvc import configure as c

    if not proc_task:
        real_stat = os.stat
        monkeypatch.setattr(c.oslite, "stat", lambda p, *a, **k: (_ for _ in ()).throw(PermissionError(p))
                            if p == "/proc/self/task" else real_stat(p, *a, **k))
    before = c.thread_count()
    done = threading.Event()
    thread = threading.Thread(target=done.wait)
    thread.start()
    try:
        assert c.thread_count() == before + 1
    finally:
        done.set()
        thread.join()
    deadline = time.monotonic() + 10  # a joined thread is listed by the kernel a moment longer
    while c.thread_count() != before and time.monotonic() < deadline:
        time.sleep(0.005)
    assert c.thread_count() == before
