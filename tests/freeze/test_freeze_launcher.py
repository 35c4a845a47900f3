"""The launcher's contract, on stand-ins ``hook.main`` and ``ctk.cli`` frozen by freeze/build.sh.

argv passes through untouched, the interpreter is configured like ``-I -S``,
exit statuses follow ``sys.exit(main())``, ``_hookexec`` behaves as documented, and
argv[0] chooses the program (freeze/programs.py), importing only that one.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess

import pytest

from freeze_testlib import CLEAN_ENV, build

from freeze.programs import PROGRAMS

pytestmark = pytest.mark.xdist_group("freeze-launcher")  # one probe binary built (module fixture)

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
    elif action == "cffi":
        import _cffi_backend  # built into the launcher (freeze/build.sh), or embedded (a memfd mapping)
        with open("/proc/self/maps") as f:
            memfd = any("memfd:_cffi_backend" in line for line in f)
        print(json.dumps([memfd, _cffi_backend.FFI().new("int *", 7)[0]]))
    elif action == "modules":
        print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("hook", "ctk"))))
    elif action == "gc":
        import gc
        print(json.dumps([gc.isenabled(), sum(g["collections"] for g in gc.get_stats())]))
    elif action == "json":
        from _json import make_scanner  # an embedded extension module, loaded from memory
        import math
        print(json.dumps({"sqrt": math.sqrt(16.0), "scanner": callable(make_scanner)}))
    return 0


entry = main  # the programs table names hook.main:entry (the real one leaves without finalising)
'''


PROBE_CTK = r'''
import sys


def main():
    if sys.argv[1:] == ["gc"]:
        import gc
        collections = sum(g["collections"] for g in gc.get_stats())  # those of the initialisation: nothing ran yet
        import json
        print(json.dumps([gc.isenabled(), collections]))
        return 0
    import json
    print(json.dumps(["ctk", sys.argv, sorted(m for m in sys.modules if m.split(".")[0] in ("hook", "ctk"))]))
    return 4
'''


def probe_tree(tmp_path_factory):
    """A tree with the hook's and nvidia-ctk's packages (the probes above), none of the others'."""
    root = tmp_path_factory.mktemp("probe-src")
    for package, module, text in (("hook", "main", PROBE_MAIN), ("ctk", "cli", PROBE_CTK)):
        (root / package).mkdir()
        (root / package / "__init__.py").write_text("")
        (root / package / f"{module}.py").write_text(text)
    return root


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    """A binary of :func:`probe_tree`."""
    return build(tmp_path_factory.mktemp("probe") / "probe", probe_tree(tmp_path_factory))


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


def test_cffi_backend_is_a_built_in_module(probe):
    """cffi's backend is compiled into the launcher with the static libffi (docs/injector.md "Cost"):
    no memfd copy, dlopen and relocation when the hook injects in-process; built in even when the frozen
    tree does not import it."""
    res = run(probe, "cffi")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [False, 7]  # not mapped from a memfd


def test_embed_cffi_builds_the_backend_as_an_embedded_extension(probe, tmp_path_factory):
    """``--embed-cffi`` (and a build without cffi's source or a static libffi): loaded from memory."""
    embedded = build(tmp_path_factory.mktemp("embedded") / "probe", probe_tree(tmp_path_factory), "--embed-cffi")
    res = run(embedded, "cffi")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == [True, 7]


def test_build_links_every_program_built_in_beside_the_binary(probe):
    links = sorted(p.name for p in probe.parent.iterdir() if p.is_symlink())
    assert links == ["nvidia-container-runtime-hook", "nvidia-container-toolkit", "nvidia-ctk"]
    assert all(os.readlink(probe.parent / n) == "probe" for n in links)


@pytest.mark.parametrize("name", ["nvidia-container-runtime-hook", "nvidia-container-toolkit", "probe"])
def test_the_hook_imports_only_the_hook(probe, name):
    """argv[0] is matched in C before the interpreter starts: the hook's start-up pays nothing for
    the other programs (a name that is no program's runs the first row, the hook)."""
    res = run(probe.parent / name, "modules")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == ["hook", "hook.main"]


@pytest.mark.parametrize("argv0", ["nvidia-ctk", "/abs/dir/nvidia-ctk", "rel/nvidia-ctk"])
def test_argv0_base_name_chooses_the_program(probe, argv0):
    res = subprocess.run([argv0, "runtime", "x"], executable=str(probe), capture_output=True, text=True,
                         env=CLEAN_ENV, timeout=60)
    assert (res.returncode, res.stderr) == (4, "")
    assert json.loads(res.stdout) == ["ctk", [argv0, "runtime", "x"], ["ctk", "ctk.cli"]]


def test_one_shot_programs_run_without_the_cyclic_gc(probe):
    """freeze/programs.py COLLECTING: nvidia-ctk keeps the collector, the hook (a one-shot program) runs without,
    from the end of the interpreter's core phase on: the collections of the main phase of the initialisation,
    which nvidia-ctk's probe counts before it imports anything, do not run in the hook."""
    from freeze.programs import COLLECTING

    assert COLLECTING == {"nvidia-ctk"}
    hook = run(probe.parent / "nvidia-container-runtime-hook", "gc")
    ctk = run(probe.parent / "nvidia-ctk", "gc")
    assert (hook.returncode, ctk.returncode) == (0, 0)
    (hook_enabled, hook_collections), (ctk_enabled, ctk_collections) = json.loads(hook.stdout), json.loads(ctk.stdout)
    assert (hook_enabled, ctk_enabled) == (False, True)
    assert hook_collections < ctk_collections, (hook_collections, ctk_collections)


def test_the_generated_table_carries_the_exec_records_constants(tmp_path):
    """freeze/mkfrozen.py writes the exec record's name, magic line and size limit from shim.execrecord,
    and the "replays the exec record" column from freeze/programs.py REPLAYING: the launcher has no copy."""
    from freeze.mkfrozen import Plan, write_outputs
    from freeze.programs import REPLAYING
    from paths import ROOT
    from shim import execrecord

    write_outputs(Plan(), tmp_path, dict(PROGRAMS))
    header = (tmp_path / "frozen_table.h").read_text().splitlines()
    assert [line for line in header if line.startswith("#define RECORD_")] == [
        f'#define RECORD_NAME "/{execrecord.RECORD}"', f'#define RECORD_MAGIC "{execrecord.MAGIC}"',
        f"#define RECORD_MAX {execrecord.MAX_SIZE}"]
    start = header.index("static const struct program programs[] = {") + 1
    rows = header[start:start + len(PROGRAMS)]
    assert {row.split('"')[1]: row.removesuffix("},").rsplit(", ", 1)[1] for row in rows} == {
        name: str(int(name in REPLAYING)) for name in PROGRAMS}
    assert REPLAYING == {"nvidia-container-runtime", "nvidia-container-runtime.legacy", "nvidia-container-runtime.cdi"}
    launcher = (ROOT / "freeze" / "launcher.c").read_text()
    assert "#define RECORD_" not in launcher and "shim.main" not in launcher


def test_a_program_whose_package_was_not_in_the_tree_says_so(probe):
    left_out = [n for n, entry in PROGRAMS.items() if entry.split(".")[0] not in ("hook", "ctk")]
    assert "nvidia-container-runtime" in left_out
    for name in left_out:
        res = subprocess.run([name, "--version"], executable=str(probe), capture_output=True, text=True,
                             env=CLEAN_ENV, timeout=60)
        assert (res.returncode, res.stdout) == (1, ""), name
        assert res.stderr == f"{name}: not built into this binary (its package was missing at build time)\n"


def test_programs_note_names_what_was_built_in(probe):
    from freeze.install import programs_of

    assert programs_of(probe, probe.read_bytes()) == ["nvidia-container-runtime-hook", "nvidia-container-toolkit",
                                                      "nvidia-ctk"]


def test_console_scripts_are_the_programs_table():
    """The venv has a console script for every name the frozen binary answers to, running the same function."""
    import tomllib

    from paths import ROOT, VENV_BIN

    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts == PROGRAMS
    for name in PROGRAMS:
        assert (VENV_BIN / name).exists(), name


def test_future_imports_become_compiler_flags(tmp_path):
    """mkfrozen compiles ``from __future__ import annotations`` as the flag it stands for: the frozen code
    never imports ``__future__`` (a class and a dozen instances in every program), annotations stay
    strings, line numbers stay those of the file."""
    import dis
    import marshal

    from freeze.mkfrozen import _compile

    src = tmp_path / "m.py"
    src.write_text('"""Doc."""\n\nfrom __future__ import annotations\n\n\ndef f(x: Undefined) -> list[int]:\n'
                   '    raise ValueError\n')
    code = marshal.loads(_compile("m", str(src), 0))
    assert not [i for i in dis.get_instructions(code) if i.opname == "IMPORT_NAME"]
    namespace = {}
    exec(code, namespace)
    assert namespace["__doc__"] == "Doc." and "annotations" not in namespace
    assert namespace["f"].__annotations__ == {"x": "Undefined", "return": "list[int]"}
    assert namespace["f"].__code__.co_firstlineno == 6
