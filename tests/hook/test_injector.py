"""hook.injector: which injector runs, the auto fallback, and the library's environment (all from the Plan)."""

from __future__ import annotations

import os
import types

import pytest

from hook import exec_cli, injector
from hook.config import HookConfig
from hook.errors import HookError
from hook.plan import GlobalOptions, Plan

PLAN = Plan(options=GlobalOptions(root="/drv"), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig",
            no_cgroups=False, devices=("0",), mig_config="", mig_monitor="", imex_channels=(),
            capabilities=("compute", "utility"), requirements=(), pid=42, rootfs="/r")


class Execed(BaseException):
    pass


def c_getenv(name: str) -> str | None:
    """getenv(3): what the library (and the helpers it forks) would see."""
    import ctypes

    libc = ctypes.CDLL(None)
    libc.getenv.restype = ctypes.c_char_p
    value = libc.getenv(name.encode())
    return None if value is None else value.decode()


@pytest.fixture
def fake_nvc(monkeypatch):
    """Replace hook.nvc's entry points; record calls and the environment seen by inject() (the process
    environment is restored afterwards: the library path changes it with putenv/unsetenv)."""
    import hook.nvc as nvc

    saved = dict(os.environ)
    monkeypatch.setenv("ONLY_IN_THE_TEST_PROCESS", "1")

    calls = []
    state = types.SimpleNamespace(found="/usr/lib/libnvidia-container.so.1", blocker=None, raises=None, calls=calls,
                                  checked=[])

    def inject(plan, *, library_path, root, checked=False):
        calls.append(("inject", library_path, root, dict(os.environ),
                      {n: c_getenv(n) for n in ("PATH", "HOME", "ONLY_IN_THE_TEST_PROCESS")}))
        state.checked.append(checked)
        if state.raises is not None:
            raise state.raises

    monkeypatch.setattr(nvc, "inject", inject)
    monkeypatch.setattr(nvc, "find_library", lambda path, root: state.found)
    monkeypatch.setattr(nvc, "reproduce_blocker", lambda plan: state.blocker)
    monkeypatch.setattr(exec_cli, "execute", lambda cmd: (_ for _ in ()).throw(Execed(cmd)))
    monkeypatch.setattr(exec_cli, "raw_environ", lambda: ["HOME=/root", "PATH=/usr/bin", "HOME=/other"])
    yield state
    os.environ.clear()
    os.environ.update(saved)


def cfg(**kw) -> Plan:
    """PLAN with the injector settings (``injector``, ``cli_environment``, ...) of ``kw``."""
    return PLAN.replace(cli_path="/opt/nvidia-container-cli", **kw)


def test_auto_is_the_default(fake_nvc):
    assert HookConfig().injector == "auto"
    assert injector.choose(cfg()).kind == "library"
    fake_nvc.found = None
    assert injector.choose(cfg()) == injector.Choice(
        "cli", "injector = 'auto': libnvidia-container.so.1 not found")
    with pytest.raises(Execed):
        injector.run(cfg())
    assert fake_nvc.calls == []


def test_cli_setting_always_execs_the_cli(fake_nvc):
    assert injector.choose(cfg(injector="cli")) == injector.Choice("cli", "injector = 'cli'")
    with pytest.raises(Execed):
        injector.run(cfg(injector="cli"))
    assert fake_nvc.calls == []


def test_auto_uses_the_library_and_sets_the_cli_environment(fake_nvc):
    c = cfg(injector="auto", cli_environment=("FOO=1", "HOME=/ignored", "NOEQ"))
    assert injector.choose(c).kind == "library"
    assert injector.run(c) == 0
    (_, path, root, env, seen_by_c), = fake_nvc.calls
    assert (path, root) == (None, "/drv")
    assert env == {"HOME": "/root", "PATH": "/usr/bin", "FOO": "1"}
    assert seen_by_c == {"PATH": "/usr/bin", "HOME": "/root", "ONLY_IN_THE_TEST_PROCESS": None}
    assert fake_nvc.checked == [True]  # auto's choice looked for blockers: inject does not again


def test_library_setting_leaves_the_blocker_check_to_inject(fake_nvc):
    injector.run(PLAN.replace(injector="library"))
    assert fake_nvc.checked == [False]


def test_library_environment_gets_the_root_prefixed_path_when_the_cli_is_looked_up(fake_nvc):
    c = PLAN.replace(injector="library")
    injector.run(c)
    env, seen_by_c = fake_nvc.calls[0][3:]
    assert env["PATH"] == seen_by_c["PATH"] == ":".join(exec_cli.search_path("/usr/bin", "/drv"))


def test_auto_falls_back_to_the_cli(fake_nvc):
    import hook.nvc as nvc

    fake_nvc.blocker = "no-pivot is set"
    assert injector.choose(cfg(injector="auto")) == injector.Choice("cli", "injector = 'auto': no-pivot is set")
    fake_nvc.blocker = None
    fake_nvc.found = None
    assert injector.choose(cfg(injector="auto")).reason == \
        "injector = 'auto': libnvidia-container.so.1 not found"
    fake_nvc.found = "/x/libnvidia-container.so.1"
    fake_nvc.raises = nvc.LibraryUnavailable("cannot load /x/libnvidia-container.so.1: bad ELF")
    with pytest.raises(Execed):  # found but does not load: exec the CLI as before
        injector.run(cfg(injector="auto"))


def test_library_mode_errors_are_fatal(fake_nvc):
    import hook.nvc as nvc

    fake_nvc.raises = nvc.LibraryUnavailable("cannot load libnvidia-container.so.1")
    with pytest.raises(HookError) as exc:
        injector.run(cfg(injector="library"))
    assert str(exc.value) == "cannot load libnvidia-container.so.1"
    fake_nvc.raises = nvc.InjectionError("nvidia-container-cli: requirement error: unsatisfied condition: cuda>=13.0")
    for setting in ("library", "auto"):
        with pytest.raises(HookError) as exc:
            injector.run(cfg(injector=setting))
        assert str(exc.value) == "nvidia-container-cli: requirement error: unsatisfied condition: cuda>=13.0"
