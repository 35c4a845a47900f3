"""End to end: runc runs busybox containers with the *installed* frozen binary as prestart hook."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

import oci_bundle
from daemons import need
from paths import FIXTURES, HOOK_BIN, ROOT, TESTS, VENV_PYTHON

pytestmark = pytest.mark.e2e


@pytest.fixture
def installed(tmp_path, frozen_bin):
    """The binary installed by ./build.sh install into a DESTDIR (uninstalled afterwards)."""
    assert os.geteuid() == 0, "end-to-end tests need root"
    need("runc")
    oci_bundle.busybox()  # busybox-static present, or a clear error
    dest = tmp_path / "dest"
    env = dict(os.environ, DESTDIR=str(dest), PREFIX="/usr")
    res = subprocess.run(["./build.sh", "install", "--binary", str(frozen_bin)], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    yield dest / "usr/bin/nvidia-container-runtime-hook"
    res = subprocess.run([str(VENV_PYTHON), "-m", "freeze.install", "uninstall"], cwd=ROOT, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def run_with_hook(bundle: Path, hook: Path, config: Path, args: list[str], env: tuple[str, ...] = ()):
    """``runc run`` of a busybox bundle at ``bundle`` running ``args``, ``hook -config config prestart``
    (PATH in its environment) as prestart hook."""
    oci_bundle.runc_bundle(bundle, args, env, hook=[str(hook), "nvidia-container-runtime-hook", "-config",
                                                    str(config), "prestart"], hook_env=oci_bundle.HOOK_ENV)
    return oci_bundle.runc_run(bundle, f"freeze-e2e-{bundle.name}-{os.getpid()}")


def test_non_gpu_container_runs_with_the_hook(tmp_path, installed):
    config = tmp_path / "config.toml"
    config.write_text("")
    res = run_with_hook(tmp_path / "plain", installed, config, ["echo", "hello from busybox"])
    assert (res.returncode, res.stdout, res.stderr) == (0, "hello from busybox\n", "")


def test_gpu_container_execs_the_cli_with_the_container_pid_and_rootfs(tmp_path, installed):
    record = tmp_path / "record"
    cli = tmp_path / "nvidia-container-cli"
    cli.write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" > {record}\nexit 0\n")
    cli.chmod(0o755)
    config = tmp_path / "config.toml"
    config.write_text(f'[nvidia-container-cli]\npath = "{cli}"\n'
                      '[nvidia-container-runtime]\nmode = "legacy"\n')
    bundle = tmp_path / "gpu"
    res = run_with_hook(bundle, installed, config, ["echo", "gpu ok"],
                        ("NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=utility"))
    assert (res.returncode, res.stdout) == (0, "gpu ok\n"), res.stderr
    argv = record.read_text().splitlines()
    pid_flags = [a for a in argv if a.startswith("--pid=")]
    assert len(pid_flags) == 1 and int(pid_flags[0][len("--pid="):]) > 1
    ldconfig = "/sbin/ldconfig.real" if os.path.exists("/sbin/ldconfig.real") else "/sbin/ldconfig"
    assert argv == ["--load-kmods", "configure", "--cuda-compat-mode=ldconfig", f"--ldconfig=@{ldconfig}",
                    "--device=all", "--utility", pid_flags[0], str(bundle / "rootfs")]


def test_failing_hook_stops_the_container(tmp_path, installed):
    config = tmp_path / "config.toml"
    config.write_text("this is [not toml\n")
    res = run_with_hook(tmp_path / "bad", installed, config, ["echo", "must not run"], ("NVIDIA_VISIBLE_DEVICES=all",))
    assert res.returncode != 0
    assert "must not run" not in res.stdout
    # runc reports the hook's own error line (the same as the venv entry point prints).
    venv = subprocess.run([str(HOOK_BIN), "-config", str(config), "prestart"],
                          input=b"{}", capture_output=True)
    message = venv.stderr.decode().strip()
    assert venv.returncode == 1 and message
    assert "error running hook #0" in res.stderr and "exit status 1" in res.stderr
    assert json.dumps(message)[1:-1].replace('"', '\\"') in res.stderr or message in res.stderr


def test_library_injector_path_through_runc(frozen_bin, tmp_path):
    """The e2e runc suite of the library injector (cffi, fake libnvidia-container), with the frozen binary.

    Runs tests/e2e/test_e2e_nvc_runc.py in a child pytest whose hook program is the frozen
    binary instead of the venv entry point: ``_cffi_backend`` loads from memory, the ffi
    modules are frozen."""
    assert os.geteuid() == 0, "end-to-end tests need root"
    driver = (
        "import sys; from pathlib import Path\n"
        f"sys.path[:0] = [{str(TESTS / 'e2e')!r}, {str(TESTS)!r}, {str(FIXTURES)!r}]\n"
        "import nvc_e2e_lib\n"
        f"nvc_e2e_lib.HOOK_BIN = Path({str(frozen_bin)!r})\n"
        "import pytest\n"
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', '--rootdir', {str(ROOT)!r}, "
        f"{str(TESTS / 'e2e' / 'test_e2e_nvc_runc.py')!r}]))\n")
    res = subprocess.run([str(VENV_PYTHON), "-c", driver], cwd=tmp_path, capture_output=True, text=True,
                         timeout=600)
    assert res.returncode == 0, res.stdout[-4000:] + res.stderr[-2000:]
    assert " passed" in res.stdout.strip().splitlines()[-1]
