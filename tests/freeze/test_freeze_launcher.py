"""The launcher's contract, on a stand-in ``hook.main`` frozen by freeze/build.sh.

argv passes through untouched, the interpreter is configured like ``-I -S``,
exit statuses follow ``sys.exit(main())``, and ``_hookexec`` behaves as documented.
"""

from __future__ import annotations

import errno
import json
import subprocess

import pytest

from freeze_testlib import CLEAN_ENV, build

PROBE_MAIN = r'''
import atexit
import json
import os
import sys


def main():
    action = sys.argv[1] if len(sys.argv) > 1 else ""
    if action == "argv":
        print(json.dumps(sys.argv))
    elif action == "config":
        f = sys.flags
        print(json.dumps({"isolated": f.isolated, "no_site": f.no_site, "no_user_site": f.no_user_site,
                          "ignore_environment": f.ignore_environment, "safe_path": f.safe_path,
                          "dont_write_bytecode": f.dont_write_bytecode, "path": sys.path,
                          "site": "site" in sys.modules, "frozen_main": __spec__.origin,
                          "stdin": sys.stdin.encoding}))
    elif action == "exit":
        sys.exit(int(sys.argv[2]))
    elif action == "exit-text":
        sys.exit("bad thing")
    elif action == "return":
        return int(sys.argv[2])
    elif action == "raise":
        raise ValueError("boom")
    elif action == "atexit":
        atexit.register(lambda: print("atexit ran"))
        sys.stdout.write("buffered")
    elif action == "exec":
        import _hookexec
        return _hookexec.execve(b"/bin/sh", [b"sh", b"-c", b'printf "%s|" "$0" "$A" "$B"; env | sort | tr "\\n" ","', b"zero"],
                                [b"A=1", b"B=two words", b"A=2"])
    elif action == "exec-errors":
        import _hookexec
        print(json.dumps([_hookexec.execve(b"/nonexistent/cli", [b"cli"], []),
                          _hookexec.execve("/bin/sh", ["sh"], ["A=\0"]),
                          _hookexec.execve(b"/etc", [b"x"], [])]))
    elif action == "dlopen":
        import _hookexec
        h = _hookexec.dlopen("libc.so.6", os.RTLD_LAZY | os.RTLD_LOCAL)
        ok = isinstance(h, int) and h != 0
        _hookexec.dlclose(h)
        try:
            _hookexec.dlopen("libdoes-not-exist.so.1", os.RTLD_LAZY)
        except OSError as exc:
            print(json.dumps([ok, "libdoes-not-exist.so.1" in str(exc)]))
    elif action == "json":
        from _json import make_scanner  # an embedded extension module, loaded from memory
        import math
        print(json.dumps({"sqrt": math.sqrt(16.0), "scanner": callable(make_scanner)}))
    return 0
'''


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    root = tmp_path_factory.mktemp("probe-src")
    (root / "hook").mkdir()
    (root / "hook" / "__init__.py").write_text("")
    (root / "hook" / "main.py").write_text(PROBE_MAIN)
    return build(tmp_path_factory.mktemp("probe") / "probe", root)


def run(probe, *args, env=None):
    return subprocess.run([str(probe), *args], capture_output=True, text=True,
                          env=CLEAN_ENV if env is None else env, timeout=60)


def test_argv_is_passed_untouched(probe):
    argv = ["argv", "-c", "pass", "-m", "x", "-X", "importtime", "-I", "--", "-E", "é"]
    res = run(probe, *argv)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [str(probe), *argv]


def test_interpreter_is_configured_like_isolated_no_site(probe):
    res = run(probe, "config", env=dict(CLEAN_ENV, PYTHONPATH="/tmp", PYTHONSAFEPATH=""))
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {
        "isolated": 1, "no_site": 1, "no_user_site": 1, "ignore_environment": 1, "safe_path": True,
        "dont_write_bytecode": 1, "path": [], "site": False, "frozen_main": "frozen", "stdin": "utf-8"}


@pytest.mark.parametrize("args,code,stdout,stderr", [
    (["exit", "3"], 3, "", ""),
    (["exit", "0"], 0, "", ""),
    (["exit", "256"], 0, "", ""),
    (["exit-text"], 1, "", "bad thing\n"),
    (["return", "7"], 7, "", ""),
    (["atexit"], 0, "bufferedatexit ran\n", ""),
])
def test_exit_status_as_sys_exit_main(probe, args, code, stdout, stderr):
    res = run(probe, *args)
    assert (res.returncode, res.stdout, res.stderr) == (code, stdout, stderr)


def test_uncaught_exception_prints_traceback_status_1(probe):
    res = run(probe, "raise")
    assert res.returncode == 1
    assert res.stderr.startswith("Traceback (most recent call last):\n")
    assert res.stderr.endswith("ValueError: boom\n")
    assert '"<frozen hook.main>"' in res.stderr


def test_hookexec_execve_keeps_raw_env_list(probe):
    res = run(probe, "exec")
    assert res.returncode == 0, res.stderr
    # The kernel gets the list as is: duplicates and order kept (the shell sees the last A).
    assert res.stdout == "zero|2|two words|A=2,B=two words,PWD=" + res.stdout.split("PWD=")[1]


def test_hookexec_execve_returns_errno(probe):
    res = run(probe, "exec-errors")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [errno.ENOENT, errno.EINVAL, errno.EACCES]


def test_hookexec_dlopen_dlclose(probe):
    res = run(probe, "dlopen")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [True, True]


def test_embedded_extension_modules_load_from_memory(probe):
    res = run(probe, "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {"sqrt": 4.0, "scanner": True}
