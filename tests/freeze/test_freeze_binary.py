"""The frozen single-file binary: self-contained, and the same behaviour as the venv entry points,
with every CPython it is built with (dist/py3.X/)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from daemons import need
from freeze_testlib import CLEAN_ENV, DIST_BIN, SUPPORTED_PYTHONS, python_for, version_of
from paths import CTK_BIN as VENV_CTK
from paths import DIST, FIXTURES, ROOT, VENV_PYTHON
from paths import HOOK_BIN as VENV_HOOK



def run(argv, env=None, stdin=b"", cwd=None):
    return subprocess.run([str(a) for a in argv], input=stdin, capture_output=True,
                          env=CLEAN_ENV if env is None else env, cwd=cwd, timeout=60)


def test_is_one_static_libpython_executable(py_frozen_bin, request):
    assert os.access(py_frozen_bin, os.X_OK)
    assert py_frozen_bin.read_bytes()[:4] == b"\x7fELF"
    ldd = subprocess.run(["ldd", str(py_frozen_bin)], capture_output=True, text=True).stdout
    assert "libpython" not in ldd
    # Nothing but the C library's own objects, and the libraries the static libpython itself
    # links (Debian's libpython3.11.a has pyexpat and zlib built in: -lexpat -lz).
    python = python_for(request.node.callspec.params["py_frozen_bin"])
    own = subprocess.run([str(python), "-c", "import sysconfig as s; print(*(s.get_config_var(k) or '' "
                          "for k in ('LIBS', 'SYSLIBS', 'MODLIBS')))"], capture_output=True, text=True,
                         check=True).stdout.split()
    allowed = {"c", "m", "dl", "pthread", "util"} | {f[2:] for f in own if f.startswith("-l")}
    for line in ldd.splitlines():
        lib = line.split()[0]
        m = re.match(r"lib([\w+-]+)\.so", lib)
        assert re.match(r"(linux-vdso|/lib64/ld-linux)", lib) or (m and m.group(1) in allowed), line
    # No run-time search path (pyenv's libpython build carries one): the loader would look for libc
    # there first, a score of failed opens on every start of every program.
    dynamic = subprocess.run(["readelf", "-d", str(py_frozen_bin)], capture_output=True, text=True, check=True).stdout
    assert "(RUNPATH)" not in dynamic and "(RPATH)" not in dynamic


def test_version_matches_venv_without_python_around(py_frozen_bin, tmp_path):
    env = dict(CLEAN_ENV)
    frozen = run([py_frozen_bin, "-version"], env=env, cwd=tmp_path)
    venv = run([VENV_HOOK, "-version"], env=env, cwd=tmp_path)
    assert (frozen.returncode, frozen.stdout, frozen.stderr) == (venv.returncode, venv.stdout, venv.stderr)
    assert frozen.stdout.startswith(b"NVIDIA Container Runtime Hook version ")


def _as(binary: Path, name: str) -> Path:
    """A symbolic link ``name`` to ``binary`` beside it (how install and dist/ call the other programs)."""
    link = binary.parent / name
    if not link.exists():
        link.symlink_to(binary.name)
    return link


def _untimed(text: bytes) -> bytes:
    return re.sub(rb'time="[^"]*"', b'time="-"', text)


@pytest.mark.parametrize("argv", [["--version"], ["runtime", "configure", "--runtime=containerd", "--dry-run"],
                                  ["runtime", "configure", "--runtime=docker", "--set-as-default", "--dry-run"],
                                  ["runtime", "configure", "--runtime=bogus"], ["no-such-command"]],
                         ids=lambda a: " ".join(a))
def test_nvidia_ctk_by_its_name_as_venv(py_frozen_bin, tmp_path, argv):
    """The one binary, called nvidia-ctk, is nvidia-ctk (tomlkit and the rest of ctk frozen in)."""
    ctk = _as(py_frozen_bin, "nvidia-ctk")
    config = tmp_path / "engine.conf"
    argv = argv + [f"--config={config}"] if argv[0] == "runtime" else argv
    outs = []
    for program in (ctk, VENV_CTK):
        config.write_text("version = 2\n" if "containerd" in " ".join(argv) else "{}\n")
        res = run([program, *argv], cwd=tmp_path)
        outs.append((res.returncode, _untimed(res.stdout), _untimed(res.stderr).replace(str(program).encode(), b"PROG")))
    assert outs[0] == outs[1]
    if argv == ["--version"]:
        assert outs[0][1].startswith(b"NVIDIA Container Toolkit CLI version ")


@pytest.mark.parametrize("name", ["nvidia-container-runtime-hook", "nvidia-container-toolkit", "hook-renamed"])
def test_the_hook_by_its_names_and_any_other(frozen_bin, name):
    """Both hook names, and a name that is no program's (as before there were several), run the hook."""
    res = run([_as(frozen_bin, name), "-version"])
    assert (res.returncode, res.stderr) == (0, b"")
    assert res.stdout.startswith(b"NVIDIA Container Runtime Hook version ")


def test_dist_links_every_program_built_in_to_the_default_binary():
    from freeze.mkfrozen import present_programs

    names = present_programs(ROOT)
    assert {"nvidia-container-runtime-hook", "nvidia-container-toolkit", "nvidia-ctk"} <= set(names)
    default = DIST_BIN.resolve()
    for name in names:
        assert (DIST_BIN.parent / name).resolve() == default, name


def test_default_binary_is_the_venvs_and_the_best_python_is_picked():
    """dist/nvidia-container-runtime-hook is dist/py<venv's version>/; without PYTHON, ./build.sh makes
    the venv with the first version of its preference order that this machine has."""
    venv_version = version_of(VENV_PYTHON)
    assert DIST_BIN.resolve() == (DIST / f"py{venv_version}" / "nvidia-container-runtime-hook").resolve()
    res = subprocess.run(["./build.sh", "python"], cwd=ROOT, capture_output=True, text=True,
                         env={k: v for k, v in os.environ.items() if k != "PYTHON"})
    assert res.returncode == 0, res.stderr
    found = dict(line.split(": ", 1) for line in res.stdout.splitlines())
    best = next(v for v in SUPPORTED_PYTHONS if found[v] != "none")
    assert found["best"] == f"{best} {found[best]}"


def test_python_environment_variables_are_ignored(frozen_bin, tmp_path):
    poison = tmp_path / "poison"
    poison.mkdir()
    (poison / "hook").mkdir()
    (poison / "hook" / "__init__.py").write_text("raise SystemExit('poisoned hook')\n")
    (poison / "encodings").mkdir()
    (poison / "encodings" / "__init__.py").write_text("raise SystemExit('poisoned encodings')\n")
    env = dict(CLEAN_ENV, PYTHONPATH=str(poison), PYTHONHOME=str(poison), PYTHONSTARTUP=str(poison),
               PYTHONINSPECT="1", PYTHONVERBOSE="1", PYTHONWARNINGS="error", PYTHONDONTWRITEBYTECODE="")
    res = run([frozen_bin, "-version"], env=env, cwd=poison)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(b"NVIDIA Container Runtime Hook version ")
    assert res.stderr == b""


def test_writes_nothing_to_disk(frozen_bin, tmp_path):
    before = sorted(p.name for p in frozen_bin.parent.iterdir())
    res = run([frozen_bin, "-version"], cwd=tmp_path)
    assert res.returncode == 0
    assert sorted(p.name for p in frozen_bin.parent.iterdir()) == before
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv", [["-version"], ["-h"], ["--bogus-flag"], ["poststart"], ["poststop"],
                                  [], ["hooks-json"], ["hooks-json", "--hook-path", "/opt/x/hook"],
                                  ["hooks-json", "--hook-path", "relative"], ["unknown-command"]],
                         ids=lambda a: " ".join(a) or "no-args")
def test_same_output_as_venv(frozen_bin, tmp_path, argv):
    frozen = run([frozen_bin, *argv], cwd=tmp_path)
    venv = run([VENV_HOOK, *argv], cwd=tmp_path)
    assert frozen.returncode == venv.returncode
    assert frozen.stdout == venv.stdout
    assert frozen.stderr == venv.stderr


def test_prestart_non_gpu_and_bad_state_as_venv(frozen_bin, tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                                                    "process": {"env": ["PATH=/bin"]}}))
    (tmp_path / "c.toml").write_text("")
    for stdin in (json.dumps({"pid": 1, "bundle": str(bundle)}).encode(), b"{not json", b""):
        frozen = run([frozen_bin, "-config", tmp_path / "c.toml", "prestart"], stdin=stdin, cwd=tmp_path)
        venv = run([VENV_HOOK, "-config", tmp_path / "c.toml", "prestart"], stdin=stdin, cwd=tmp_path)
        assert (frozen.returncode, frozen.stdout, frozen.stderr) == (venv.returncode, venv.stdout, venv.stderr)


def test_runs_in_a_root_without_python(frozen_bin, tmp_path):
    """chroot holding only the binary, the C library it links and /proc: no Python on disk at all."""
    assert os.geteuid() == 0, "this test needs root (chroot)"
    need("unshare")
    root = tmp_path / "root"
    for d in ("bin", "proc", "tmp", "etc", "bundle/rootfs"):
        (root / d).mkdir(parents=True)
    shutil.copy2(frozen_bin, root / "bin" / "nvidia-container-runtime-hook")
    ldd = subprocess.run(["ldd", str(frozen_bin)], capture_output=True, text=True, check=True).stdout
    for path in re.findall(r"(/\S+)", ldd):
        target = root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(os.path.realpath(path), target)
    (root / "bundle" / "config.json").write_text(json.dumps(
        {"ociVersion": "1.0.2", "root": {"path": "rootfs"}, "process": {"env": ["PATH=/bin"]}}))
    (root / "etc" / "c.toml").write_text("")
    (root / "state.json").write_text(json.dumps({"pid": 1, "bundle": "/bundle"}))
    assert not list(root.rglob("*python*"))
    script = (f"mount -t proc proc {root}/proc && "
              f"chroot {root} /bin/nvidia-container-runtime-hook -version && "
              f"chroot {root} /bin/nvidia-container-runtime-hook -config /etc/c.toml prestart < {root}/state.json && "
              f"echo prestart-ok")
    res = subprocess.run(["unshare", "--mount", "--fork", "sh", "-c", script], capture_output=True,
                         text=True, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"}, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines() == ["NVIDIA Container Runtime Hook version 1.20.0", "prestart-ok"]


def _golden_cases() -> list[Path]:
    return sorted(p for p in (FIXTURES / "hook").iterdir() if (p / "expected.json").exists())


GOLDEN_CASES = _golden_cases()


def test_golden_corpus_is_present():
    assert len(GOLDEN_CASES) >= 397


@pytest.mark.parametrize("case", GOLDEN_CASES, ids=[c.name for c in GOLDEN_CASES])
def test_golden_case_against_the_binary(py_frozen_bin, case, monkeypatch):
    """Each case of the golden hook corpus (its own checker, ``check_hook.run_case``) through each frozen
    binary, with no PYTHON* variable around: one test per case and binary."""
    import check_hook

    for key in [k for k in os.environ if k.startswith("PYTHON")]:
        monkeypatch.delenv(key)
    expected = json.loads((case / "expected.json").read_text())
    observed = check_hook.run_case([str(py_frozen_bin)], case)
    assert check_hook.compare(expected, observed) == []


@pytest.mark.parametrize("depth,rc", [(10000, 0), (10001, 1)])
def test_go_nesting_limit_in_the_binary(py_frozen_bin, tmp_path, depth, rc):
    """Go accepts 10,000 levels: the frozen interpreter's recursion limit and C stack must not be the
    limit, whatever the CPython (3.12+ count the C scanner's levels against a fixed C limit)."""
    frozen_bin = py_frozen_bin
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    deep = "[" * (depth - 3) + "[]" + "]" * (depth - 3)  # under the spec's object and "annotations"
    (bundle / "config.json").write_text('{"ociVersion": "1.0.2", "root": {"path": "rootfs"}, '
                                        '"process": {"env": ["PATH=/bin"]}, "annotations": {"x": ' + deep + "}}")
    (tmp_path / "c.toml").write_text("")
    stdin = json.dumps({"pid": 1, "bundle": str(bundle)}).encode()
    frozen = run([frozen_bin, "-config", tmp_path / "c.toml", "prestart"], stdin=stdin, cwd=tmp_path)
    venv = run([VENV_HOOK, "-config", tmp_path / "c.toml", "prestart"], stdin=stdin, cwd=tmp_path)
    assert (frozen.returncode, frozen.stderr) == (venv.returncode, venv.stderr)
    assert frozen.returncode == rc
    if rc:
        assert frozen.stderr == (b"could not decode OCI spec: exceeded max depth (nested deeper than 10000 "
                                 b"levels)\n")


def test_binary_does_not_wait_for_stdin_to_close(frozen_bin, tmp_path):
    bundle = tmp_path / "bundle"
    (bundle / "rootfs").mkdir(parents=True)
    (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"},
                                                    "process": {"env": ["PATH=/bin"]}}))
    (tmp_path / "c.toml").write_text("")
    proc = subprocess.Popen([str(frozen_bin), "-config", str(tmp_path / "c.toml"), "prestart"], env=CLEAN_ENV,
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        proc.stdin.write(json.dumps({"pid": 1, "bundle": str(bundle)}).encode())
        proc.stdin.flush()
        assert proc.wait(timeout=60) == 0  # stdin still open
    finally:
        proc.kill()
        proc.stdin.close()
        proc.stderr.close()
        proc.wait()
