"""``injector = "auto"`` (the default) against real shared objects: the library when it loads, the CLI otherwise."""

from __future__ import annotations

import os
import subprocess

import pytest

from nvc_testlib import FAKE_LIB
from hook import exec_cli, injector
from hook.errors import HookError
from hook.nvc import LibraryUnavailable
from hook.nvc.configure import load
from hook.plan import GlobalOptions, Plan

PLAN = Plan(options=GlobalOptions(), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig", no_cgroups=False,
            devices=("all",), mig_config="", mig_monitor="", imex_channels=(), capabilities=("utility",),
            requirements=(), pid=4242, rootfs="/b/rootfs")
VERSION_STRUCT = "struct v { unsigned major, minor, patch; const char *s; };\n"


class Execed(BaseException):
    pass


@pytest.fixture
def environ():
    """injector.run() makes os.environ the CLI's environment: restore the test process's afterwards."""
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def config(fake, **kw) -> Plan:
    """The fake (dry run) reaches the library through the CLI's environment, like every variable."""
    env = (f"FAKE_NVC_LOG={fake.path}", "FAKE_NVC_DRY_RUN=1")
    return PLAN.replace(cli_path="/opt/nvidia-container-cli", cli_environment=env, **kw)


def stub(tmp_path, source: str):
    """A shared object built from ``source`` (a library that loads but is not a usable libnvidia-container)."""
    c = tmp_path / "stub.c"
    c.write_text(VERSION_STRUCT + source)
    so = tmp_path / "libnvidia-container.so.1"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(so), str(c)], check=True, capture_output=True)
    return so


LACKS_SYMBOLS = 'static struct v ver = {1, 17, 8, "1.17.8"}; const struct v *nvc_version(void) { return &ver; }\n'
NULL_VERSION = "const struct v *nvc_version(void) { return 0; }\n"


@pytest.mark.parametrize("source, detail", [
    (LACKS_SYMBOLS, "undefined symbol: nvc_context_new"),
    (NULL_VERSION, "undefined symbol: nvc_context_new"),
    ("int unrelated(void) { return 0; }\n", "undefined symbol: nvc_version"),
])
def test_a_library_without_the_api_is_unavailable(tmp_path, source, detail):
    so = stub(tmp_path, source)
    with pytest.raises(LibraryUnavailable) as exc:
        load(str(so), "")
    assert str(exc.value) == f"cannot use {so}: {detail}"


def test_a_null_version_is_unavailable(tmp_path, monkeypatch):
    from hook.nvc import configure

    so = stub(tmp_path, NULL_VERSION)
    monkeypatch.setattr(configure, "SYMBOLS", ("nvc_version",))
    with pytest.raises(LibraryUnavailable) as exc:
        load(str(so), "")
    assert str(exc.value) == f"cannot use {so}: nvc_version() returned NULL"


def test_the_library_is_bound_lazily_like_the_cli(tmp_path, monkeypatch):
    """Loaded as the dynamic loader loads the CLI's: lazily.  A function of a dependency that nothing calls
    is never looked up (cffi's default RTLD_NOW would resolve every relocation of every dependency at
    load, thousands of lookups with the real library's, and refuse this one)."""
    from hook.nvc import configure

    dep = tmp_path / "dep.c"
    dep.write_text("int dep_fn(void) { return 1; }\n")
    libdep = tmp_path / "libdep.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(libdep), str(dep)], check=True, capture_output=True)
    c = tmp_path / "stub.c"
    c.write_text(VERSION_STRUCT + LACKS_SYMBOLS + "int dep_fn(void);\nint never_called(void) { return dep_fn(); }\n")
    so = tmp_path / "libnvidia-container.so.1"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(so), str(c), "-L", str(tmp_path), "-ldep",
                    "-Wl,-z,lazy", "-Wl,-rpath,$ORIGIN"], check=True, capture_output=True)
    dep.write_text("int other_fn(void) { return 1; }\n")  # the dependency no longer has dep_fn
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(libdep), str(dep)], check=True, capture_output=True)
    monkeypatch.setattr(configure, "SYMBOLS", ("nvc_version",))
    library = load(str(so), "")
    try:
        assert (library.path, library.version) == (str(so), (1, 17, 8))
    finally:
        library.close()


@pytest.mark.parametrize("source", [LACKS_SYMBOLS, "int unrelated(void) { return 0; }\n"])
def test_auto_execs_the_cli_when_the_library_is_unusable(tmp_path, monkeypatch, fake, environ, source):
    so = stub(tmp_path, source)
    monkeypatch.setattr(exec_cli, "execute", lambda cmd: (_ for _ in ()).throw(Execed(cmd)))
    cfg = config(fake, library_path=str(so))
    assert injector.choose(cfg).kind == "library"
    with pytest.raises(Execed) as exc:
        injector.run(cfg)
    assert exc.value.args[0].argv == ("/opt/nvidia-container-cli", *PLAN.cli_args())
    with pytest.raises(HookError) as exc:  # injector = "library": one line, exit 1
        injector.run(cfg.replace(injector="library"))
    assert str(exc.value).startswith(f"cannot use {so}: undefined symbol: nvc_")


def test_auto_injects_in_process_when_the_library_loads(monkeypatch, fake, environ):
    monkeypatch.setattr(exec_cli, "execute", lambda cmd: (_ for _ in ()).throw(Execed(cmd)))
    assert injector.run(config(fake, library_path=str(FAKE_LIB))) == 0
    assert "nvc_ldcache_update" in fake.calls()


def test_the_library_path_imports_no_os(tmp_path):
    """A GPU prestart injected in-process (the default ``auto`` with the library found) reads the
    environment, the rootfs and the library's paths through ``hook.oslite``: ``os`` stays out."""
    import json

    import importtime
    from nvc_testlib import FakeLog, require_build

    require_build()
    bundle = tmp_path / "b"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                                                    "process": {"env": ["NVIDIA_VISIBLE_DEVICES=0"]}}))
    (tmp_path / "config.toml").write_text(f'[nvidia-container-runtime-hook]\nlibrary-path = "{FAKE_LIB}"\n')
    state = json.dumps({"ociVersion": "1.0.2", "id": "c", "pid": 42, "bundle": str(bundle)}).encode()
    log = FakeLog(tmp_path / "nvc.jsonl")
    env = {"PATH": "/usr/bin:/bin", "FAKE_NVC_DRY_RUN": "1", "FAKE_NVC_LOG": str(log.path)}
    proc = subprocess.run([*importtime.command("hook.main:main"), "-config", str(tmp_path / "config.toml"),
                           "prestart"], input=state, capture_output=True, cwd=bundle, env=env)
    assert proc.returncode == 0, proc.stderr
    assert log.calls()[-1] == "nvc_context_free" and "nvc_device_mount" in log.calls()
    imported = importtime.imported(proc.stderr)
    assert {"hook.nvc.configure", "_cffi_backend"} <= imported  # the measurement works
    for heavy in importtime.OS:
        assert heavy not in imported, heavy
