"""The test suite's own machinery: paths, daemon reaping, faults from outside, single-threaded tests."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import paths
from daemons import SighupCounter, _mentions
from faults import KILL_BEFORE_RENAME
from single_thread import forked, threads


def test_paths_name_the_repository_and_what_build_sh_made():
    assert (paths.ROOT / "pyproject.toml").is_file() and (paths.TESTS / "paths.py").is_file()
    assert (paths.FIXTURES / "check_hook.py").is_file() and (paths.FIXTURES / "runtime").is_dir()
    assert paths.HOOK_BIN.is_file() and paths.CTK_BIN.is_file(), "run ./build.sh"


@pytest.mark.parametrize("cmdline, named", [
    (b"containerd\0--config\0/t/x/config.toml\0", True),
    (b"runc\0--root=/t/x/state\0", True),
    (b"sh\0/t/x\0", True),
    (b"containerd\0--config\0/t/x1/config.toml\0", False),   # a sibling with a longer name
    (b"sh\0/t/xy\0", False),
    (b"sh\0-c\0/t/\0", False),
])
def test_reap_kills_only_what_names_the_directory(cmdline, named):
    assert _mentions(cmdline, b"/t/x") is named


def test_kill_before_rename_kills_the_child_at_its_first_replace(tmp_path):
    code = "import os; open('a', 'w').close(); os.replace('a', 'b'); print('renamed')"
    r = subprocess.run([str(paths.VENV_PYTHON), "-c", code], cwd=tmp_path, capture_output=True, text=True,
                       env=dict(os.environ, **KILL_BEFORE_RENAME))
    assert (r.returncode, r.stdout) == (-9, "")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a"]
    r = subprocess.run([str(paths.VENV_PYTHON), "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert (r.returncode, r.stdout) == (0, "renamed\n")


@pytest.fixture
def thread_count_in_setup() -> int:
    return threads()


@pytest.mark.single_threaded
def test_a_single_threaded_test_has_no_other_thread_from_setup_on(thread_count_in_setup):
    assert (thread_count_in_setup, threads()) == (1, 1)


def _thread_count() -> int:
    return threads()


def _fail() -> None:
    raise AssertionError("the child's failure")


def _die() -> None:
    os._exit(3)


def _raise_unpicklable() -> None:
    class Local(Exception):
        pass
    raise Local("not picklable")


def test_forked_runs_alone_and_hands_back_what_the_child_returned_or_raised():
    before = threads()
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        assert threads() == before + 1
        assert forked(_thread_count)() == 1
        with pytest.raises(AssertionError, match="^the child's failure\n"):
            forked(_fail)()
        with pytest.raises(AssertionError, match=r"^the forked test process died \(wait status 0x300\)"):
            forked(_die)()
        with pytest.raises(AssertionError, match="Local: not picklable"):
            forked(_raise_unpicklable)()
    finally:
        stop.set()
        t.join()
        deadline = time.monotonic() + 10   # a joined thread can linger in /proc/self/task: the tests
        while threads() > before and time.monotonic() < deadline:   # after this one need it gone
            time.sleep(0.01)


def test_xdist_groups_come_from_the_module_pytestmark():
    from xdist_groups import module_group
    assert module_group(paths.TESTS / "e2e" / "test_e2e_nvc_docker.py") == "e2e-nvc-docker"
    assert module_group(paths.TESTS / "e2e" / "test_e2e_nvc_podman.py") == "e2e-nvc-podman"
    assert module_group(paths.TESTS / "e2e" / "test_e2e_nvc_runc.py") is None
    # both touch /etc/cdi and /var/run/cdi: one writes a spec there, the other checks nothing appears
    assert module_group(paths.TESTS / "cdi" / "test_cdi_podman_e2e.py") == "host-cdi"
    assert module_group(paths.TESTS / "shim" / "test_shim_cdi_runc_e2e.py") == "host-cdi"


def test_sighup_counter_counts_every_sighup_sent_before_it_is_asked(tmp_path):
    d = SighupCounter(tmp_path, "--config", "/x.toml")
    try:
        assert d.count() == 0
        for n in (1, 2, 3):
            os.kill(d.proc.pid, signal.SIGHUP)
            assert d.count() == n        # no sleep: handled before the count's own signal
        assert d.pidfile.read_text() == f"{d.proc.pid}\n"
        assert Path(f"/proc/{d.proc.pid}/cmdline").read_bytes().split(b"\0")[2:4] == [b"--config", b"/x.toml"]
    finally:
        d.stop()


def test_auto_starts_one_worker_per_cpu(monkeypatch, pytestconfig):
    """``-n auto`` on CI's 2-core machine starts 2 workers (docs/performance.md, "The test suite's wall
    time"); a pytest started by a test runs in one process."""
    conftest = pytestconfig.pluginmanager.get_plugin(str(paths.TESTS / "conftest.py"))
    monkeypatch.delenv("PYTEST_XDIST_AUTO_NUM_WORKERS", raising=False)
    monkeypatch.delenv("PYTEST_CURRENT_TEST", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1})
    assert conftest.pytest_xdist_auto_num_workers(None) == 2
    monkeypatch.setenv("PYTEST_CURRENT_TEST", "x")
    assert conftest.pytest_xdist_auto_num_workers(None) == 0


def test_classes_lists_every_exception_class_a_run_creates(tmp_path):
    """tests/classes.py lists classes made by a class statement (hook.errors' family) and by ``type()``
    (hook.values.lazy_exception's), also when the run ends in an exec."""
    import classes

    (tmp_path / "probe.py").write_text("import posix\n"
                                       "def main():\n"
                                       "    import hook.errors, hook.values\n"
                                       "    hook.values.FrozenError, hook.errors.StateError\n"
                                       "    posix.execv('/bin/true', ['true'])\n")
    env = {"PYTHONPATH": f"{tmp_path}:{paths.ROOT}", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(classes.command("probe:main"), capture_output=True, env=env, check=True)
    created = classes.created(proc.stderr)
    assert {"hook.values.FrozenError", "hook.errors.StateError"} <= set(created) and len(created) == len(set(created))
