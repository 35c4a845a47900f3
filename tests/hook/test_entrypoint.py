"""The entry point end to end, in-process: subcommands, prestart scenarios (hook.md §11.15), explain."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import classes
import importtime
from hook.flags import USAGE

from hook_testlib import ROOT
from hook_harness import gpu_spec, run, state, write_bundle

CLI = "/opt/test/nvidia-container-cli"
SKIP = f'[nvidia-container-cli]\npath = "{CLI}"\n[nvidia-container-runtime-hook]\nskip-mode-detection = true\n'
BASE = ["--load-kmods", "configure", "--cuda-compat-mode=ldconfig"]


def prestart(tmp_path, monkeypatch, capsys, env, config=SKIP, args=("prestart",), **spec_kw):
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(env, **spec_kw), config)
    return run([*lead, *args], state(bundle), monkeypatch, capsys, cwd=bundle), bundle


def configure_args(outcome) -> list[str]:
    assert outcome.cmd is not None, outcome.stderr
    args = list(outcome.cmd.argv[1:])
    assert args[:3] == BASE and args[3].startswith("--ldconfig=@/sbin/ldconfig")
    return args[4:]


@pytest.mark.parametrize("args,rc,stream,text", [
    (["poststart"], 0, "err", ""), (["poststop"], 0, "err", ""),
    (["-version"], 0, "out", "NVIDIA Container Runtime Hook version 1.20.0\n"),
    (["-version", "foo"], 0, "out", "NVIDIA Container Runtime Hook version 1.20.0\n"),
    (["-h"], 0, "err", USAGE), ([], 2, "err", USAGE), (["create"], 2, "err", USAGE),
    (["PRESTART"], 2, "err", USAGE), (["-x"], 2, "err", "flag provided but not defined: -x\n" + USAGE),
])
def test_subcommands(args, rc, stream, text, monkeypatch, capsys):
    out = run(args, b"", monkeypatch, capsys)
    assert out.rc == rc
    assert (out.stdout if stream == "out" else out.stderr) == text


def test_gpu_prestart_B01(tmp_path, monkeypatch, capsys):
    out, bundle = prestart(tmp_path, monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=all"])
    assert configure_args(out) == ["--device=all", "--compute", "--utility", "--pid=42", f"{bundle}/rootfs"]
    assert out.cmd.path == CLI and out.stderr == ""


def test_non_gpu_container_is_a_noop(tmp_path, monkeypatch, capsys):
    out, _ = prestart(tmp_path, monkeypatch, capsys, ["PATH=/bin"], config=None)
    assert (out.rc, out.cmd, out.stderr) == (0, None, "")


@pytest.mark.parametrize("env,expected", [
    (["NVIDIA_VISIBLE_DEVICES=0,1,0"], ["--device=0,1", "--compute", "--utility"]),
    (["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_DRIVER_CAPABILITIES=,"], ["--device=0"]),
    (["CUDA_VERSION=10.0", "NVIDIA_DRIVER_CAPABILITIES= "], ["--device=all", "--require=cuda>=10.0"]),
    (["CUDA_VERSION=11.0", "NVIDIA_REQUIRE_CUDA="],
     ["--device=all", "--compat32", "--compute", "--display", "--graphics", "--ngx", "--utility", "--video",
      "--require=", "--require=cuda>=11.0"]),
    (["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_IMEX_CHANNELS=3,4"], ["--device=0", "--imex-channel=3,4", "--compute",
                                                                "--utility"]),
])
def test_prestart_scenarios(env, expected, tmp_path, monkeypatch, capsys):
    out, bundle = prestart(tmp_path, monkeypatch, capsys, env)
    assert configure_args(out) == [*expected, "--pid=42", f"{bundle}/rootfs"]


def test_auto_mode_announces_legacy_B76(tmp_path, monkeypatch, capsys):
    out, _ = prestart(tmp_path, monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=0"],
                      config=f'nvidia-container-cli.path = "{CLI}"\n')
    assert out.cmd is not None and out.stderr == "Auto-detected mode as 'legacy'\n"


def test_cdi_request_is_refused_in_auto_mode_B77(tmp_path, monkeypatch, capsys):
    out, _ = prestart(tmp_path, monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=0"],
                      config=f'nvidia-container-cli.path = "{CLI}"\n')
    assert out.rc == 1 and out.cmd is None
    assert out.stderr == ("Auto-detected mode as 'cdi'\ninvoking the NVIDIA Container Runtime Hook directly "
                          "(e.g. specifying the docker --gpus flag) is not supported. Please use the NVIDIA "
                          "Container Runtime (e.g. specify the --runtime=nvidia flag) instead\n")


def test_repeated_cdi_name_is_still_a_cdi_request_H1(tmp_path, monkeypatch, capsys):
    """docs/compatibility.md H1: the reference's duplicate bug turns the list into ',nvidia.com/gpu=0', whose
    empty entry is not a CDI name, so it picks legacy mode and the CLI then fails on the device; with each
    id once the request is what B77 refuses, with B77's message."""
    out, _ = prestart(tmp_path, monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=0,nvidia.com/gpu=0"],
                      config=f'nvidia-container-cli.path = "{CLI}"\n')
    b77, _ = prestart(tmp_path / "b77", monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=0"],
                      config=f'nvidia-container-cli.path = "{CLI}"\n')
    assert out.rc == 1 and out.cmd is None
    assert out.stderr.startswith("Auto-detected mode as 'cdi'\ninvoking the NVIDIA Container Runtime Hook directly")
    assert (out.rc, out.stderr) == (b77.rc, b77.stderr)


def test_one_letter_cdi_vendor_in_auto_mode_B85(tmp_path, monkeypatch, capsys):
    out, _ = prestart(tmp_path, monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=a/b=c"],
                      config=f'nvidia-container-cli.path = "{CLI}"\n')
    assert out.rc == 1 and out.cmd is None
    first, second = out.stderr.splitlines()
    assert first == "Auto-detected mode as ''"
    assert "runtime error: slice bounds out of range [1:0]" in second


def test_debug_flag_B88(tmp_path, monkeypatch, capsys):
    out, _ = prestart(tmp_path, monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=0"],
                      config=SKIP.replace("[nvidia-container-runtime-hook]", 'debug = "/var/log/x.log"\n'
                                          "[nvidia-container-runtime-hook]"), args=("-debug", "prestart"))
    assert out.cmd.argv[1:3] == ("--load-kmods", "--debug=/dev/stderr")


def test_debug_prints_a_traceback_only_with_debug(tmp_path, monkeypatch, capsys):
    env = ["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_DRIVER_CAPABILITIES=foo"]
    out, _ = prestart(tmp_path, monkeypatch, capsys, env)
    assert out.rc == 1 and out.stderr == "unsupported capabilities found in 'foo' (allowed '')\n"
    out, _ = prestart(tmp_path, monkeypatch, capsys, env, args=("-debug", "prestart"))
    assert out.rc == 1 and out.stderr.startswith("unsupported capabilities found in 'foo' (allowed '')\nTraceback")


def test_warnings_use_logrus_format(tmp_path, monkeypatch, capsys):
    out, _ = prestart(tmp_path, monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=0"],
                      config="accept-nvidia-visible-devices-envvar-when-unprivileged = false\n" + SKIP)
    assert out.rc == 0 and out.cmd is None
    line = out.stderr.strip()
    assert line.startswith('time="') and line.endswith(
        ' level=warning msg="Ignoring devices requested by environment variable(s) in unprivileged container: '
        '[NVIDIA_VISIBLE_DEVICES]"')


def test_rootfs_relative_to_cwd_B98(tmp_path, monkeypatch, capsys):
    out, bundle = prestart(tmp_path, monkeypatch, capsys, ["NVIDIA_VISIBLE_DEVICES=0"], root="a/../b/./c/")
    assert out.cmd.argv[-1] == f"{bundle}/b/c"


def test_hooks_json(monkeypatch, capsys):
    out = run(["hooks-json", "--hook-path", "/opt/nvidia/toolkit/nvidia-container-runtime-hook"], b"",
              monkeypatch, capsys)
    assert out.rc == 0
    doc = json.loads(out.stdout)
    assert doc["hook"] == {"path": "/opt/nvidia/toolkit/nvidia-container-runtime-hook",
                           "args": ["nvidia-container-runtime-hook", "prestart"],
                           "env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:"
                                   "/opt/nvidia/toolkit"]}
    out = run(["hooks-json"], b"", monkeypatch, capsys)
    assert out.stdout == (ROOT / "tests" / "hook" / "data" / "oci-nvidia-hook.json").read_text()
    out = run(["hooks-json", "--hook-path", "relative"], b"", monkeypatch, capsys)
    assert out.rc == 2 and out.stderr == "hooks-json: the hook path must be absolute: 'relative'\n"


def test_explain_text_and_json(tmp_path, monkeypatch, capsys):
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=1", "NVIDIA_REQUIRE_ARCH=arch>=8.0"]),
                        f'nvidia-container-cli.path = "{CLI}"\n')
    out = run([*lead, "explain", "--bundle", str(bundle), "--pid", "7", "--json"], b"", monkeypatch, capsys)
    assert out.rc == 0 and out.cmd is None
    r = json.loads(out.stdout)
    assert (r["outcome"], r["devices"], r["capabilities"], r["requirements"]) == (
        "inject", ["1"], ["compute", "utility"], ["arch>=8.0"])
    assert r["command"][0] == CLI and r["command"][-2:] == ["--pid=7", f"{bundle}/rootfs"]
    assert {"topic": "devices", "why": "from NVIDIA_VISIBLE_DEVICES='1' (unprivileged, accepted: "
            "accept-nvidia-visible-devices-envvar-when-unprivileged = true)"} in r["reasons"]
    assert r["injector"] == {"kind": "cli", "why": "injector = 'auto': libnvidia-container.so.1 not found"}
    out = run([*lead, "explain", str(bundle / "config.json")], b"", monkeypatch, capsys)
    assert "devices:       1\n" in out.stdout and "outcome:       prestart injects the GPUs above" in out.stdout


def test_explain_says_why_a_request_is_ignored(tmp_path, monkeypatch, capsys):
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=all"]),
                        "accept-nvidia-visible-devices-envvar-when-unprivileged = false\n")
    out = run([*lead, "explain", "--bundle", str(bundle)], b"", monkeypatch, capsys)
    assert out.rc == 0
    assert ("devices: request by environment (NVIDIA_VISIBLE_DEVICES='all') ignored: the container is "
            "unprivileged and accept-nvidia-visible-devices-envvar-when-unprivileged = false") in out.stdout
    assert out.stdout.endswith(
        "outcome:       GPU request ignored (the container is unprivileged and "
        "accept-nvidia-visible-devices-envvar-when-unprivileged = false): prestart exits 0 and injects nothing\n")
    assert "not a GPU container" not in out.stdout
    r = json.loads(run([*lead, "explain", "--bundle", str(bundle), "--json"], b"", monkeypatch, capsys).stdout)
    assert (r["outcome"], r["ignored"]) == ("noop", "the container is unprivileged and "
                                                    "accept-nvidia-visible-devices-envvar-when-unprivileged = false")


def test_explain_of_a_non_gpu_container(tmp_path, monkeypatch, capsys):
    bundle = tmp_path / "b"
    write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=void"]))
    out = run(["explain", "--bundle", str(bundle)], b"", monkeypatch, capsys)
    assert out.rc == 0
    assert out.stdout.endswith("outcome:       not a GPU container: prestart exits 0 and changes nothing\n")


@pytest.mark.parametrize("command,usage", [
    ("explain", "Usage: nvidia-container-runtime-hook [-config FILE] explain [--bundle DIR | CONFIG_JSON] [--json] "
                "[--pid N]\n"),
    ("hooks-json", "Usage: nvidia-container-runtime-hook [-config FILE] hooks-json [--hook-path PATH]\n"),
])
@pytest.mark.parametrize("flag", ["--help", "-h", "-help"])
def test_subcommand_help_is_usage_and_exit_0(command, usage, flag, monkeypatch, capsys):
    out = run([command, "--json", flag] if command == "explain" else [command, flag], b"", monkeypatch, capsys)
    assert (out.rc, out.stderr) == (0, "")
    assert out.stdout.startswith(usage + "\n") and out.stdout.count("\n") > 3


def test_explain_without_pid_shows_a_placeholder(tmp_path, monkeypatch, capsys):
    """prestart passes the runtime's pid; explain does not know it and must not show --pid=0."""
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"]), f'nvidia-container-cli.path = "{CLI}"\n')
    out = run([*lead, "explain", "--bundle", str(bundle)], b"", monkeypatch, capsys)
    assert out.rc == 0
    assert "--pid=0" not in out.stdout
    assert f" --pid=PID {bundle}/rootfs\n" in out.stdout
    assert "(PID: the container's pid, from the runtime's state; --pid N fills it in)" in out.stdout
    r = json.loads(run([*lead, "explain", "--bundle", str(bundle), "--json"], b"", monkeypatch, capsys).stdout)
    assert r["pid"] is None and r["command"][-2:] == ["--pid=PID", f"{bundle}/rootfs"]
    r = json.loads(run([*lead, "explain", "--bundle", str(bundle), "--json", "--pid", "0"], b"", monkeypatch,
                       capsys).stdout)
    assert r["pid"] == 0 and r["command"][-2] == "--pid=0"


def test_explain_without_pid_chooses_the_injector_as_for_a_real_container(tmp_path, monkeypatch, capsys):
    """With pid 0 the library injector would be ruled out ("not a positive 32-bit pid")."""
    import hook.nvc as nvc

    monkeypatch.setattr(nvc, "find_library", lambda path, root: "/usr/lib/libnvidia-container.so.1")
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"]),
                        f'nvidia-container-cli.path = "{CLI}"\n[nvidia-container-runtime-hook]\ninjector = "auto"\n')
    r = json.loads(run([*lead, "explain", "--bundle", str(bundle), "--json"], b"", monkeypatch, capsys).stdout)
    assert r["injector"]["kind"] == "library", r["injector"]
    assert r["cli_args"][-2] == "--pid=PID"


def test_explain_reports_errors(tmp_path, monkeypatch, capsys):
    bundle = tmp_path / "b"
    write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_DRIVER_CAPABILITIES=foo"]))
    out = run(["explain", "--bundle", str(bundle)], b"", monkeypatch, capsys)
    assert out.rc == 1
    assert "outcome:       prestart fails (exit 1): unsupported capabilities found in 'foo' (allowed '')" \
        in out.stdout
    out = run(["explain", "--frobnicate"], b"", monkeypatch, capsys)
    assert out.rc == 2 and out.stderr.startswith("explain: unknown option '--frobnicate'")


@pytest.mark.parametrize("with_config", [False, True])
def test_non_gpu_path_imports_only_what_it_needs(tmp_path, with_config):
    """The no-op path loads no heavy or GPU-path module (checked with -X importtime).

    Each of ``re``, ``json``, ``dataclasses``, ``typing`` and ``tomllib`` costs more to import than the
    whole start-up budget of the hook, ``os`` 15 % of the interpreter's start (docs/performance.md).
    """
    from test_minitoml import REAL_CONFIG

    bundle = tmp_path / "b"
    write_bundle(bundle, gpu_spec(["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=void"],
                                  caps={"bounding": ["CAP_CHOWN"]}))
    args = importtime.command("hook.main:main")
    if with_config:
        (tmp_path / "config.toml").write_text(REAL_CONFIG)
        args += ["-config", str(tmp_path / "config.toml")]
    proc = subprocess.run([*args, "prestart"], input=state(bundle), capture_output=True, cwd=bundle,
                          env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": "/x"})
    assert proc.returncode == 0, proc.stderr
    imported = importtime.imported(proc.stderr)
    assert {"hook.spec", "hook.version"} <= imported  # the measurement works
    assert ("hook.minitoml" in imported) is with_config
    for heavy in ("re", "json", "dataclasses", "typing", "inspect", "enum", "tomllib", "datetime", "ctypes",
                  "hook.exec_cli", "hook.mode", "hook.injector", "hook.explain", "hook.nvc", "cffi", "_cffi_backend",
                  "orjson", "tomlkit", "semver", "subprocess", "signal", "traceback", *importtime.OS):
        assert heavy not in imported, heavy


def test_gpu_path_to_the_cli_exec_imports_no_os(tmp_path):
    """The GPU path up to the CLI's exec (mode detection, plan, CLI lookup, environment) reads the
    environment and the file system through ``hook.oslite``: ``os`` stays out."""
    bundle = tmp_path / "b"
    cli = tmp_path / "cli"
    cli.write_text(f"#!/bin/sh\necho \"$@\" > {tmp_path}/cli-ran\n")
    cli.chmod(0o755)
    lead = write_bundle(bundle, gpu_spec(["PATH=/bin", "NVIDIA_VISIBLE_DEVICES=0"]),
                        f'[nvidia-container-cli]\npath = "{cli}"\n[nvidia-container-runtime-hook]\ninjector = "cli"\n')
    proc = subprocess.run([*importtime.command("hook.main:main"), *lead, "prestart"], input=state(bundle),
                          capture_output=True, cwd=bundle, env={"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": "/x"})
    assert proc.returncode == 0, proc.stderr
    assert "configure" in (tmp_path / "cli-ran").read_text()
    imported = importtime.imported(proc.stderr)
    assert {"hook.exec_cli", "hook.mode", "hook.plan"} <= imported  # the measurement works
    for heavy in importtime.OS:
        assert heavy not in imported, heavy


@pytest.mark.parametrize("devices, cli_ran", [("void", False), ("0", True)])
def test_a_run_that_succeeds_creates_no_exception_class(tmp_path, devices, cli_ran):
    """The exception families are created when first named (hook.values.lazy_classes): a class costs
    60-100 k instructions to create, and a prestart that succeeds (non-GPU, or GPU up to the exec of the
    CLI) needs none; a failing one creates its own."""
    bundle = tmp_path / "b"
    cli = tmp_path / "cli"
    cli.write_text(f"#!/bin/sh\ntouch {tmp_path}/cli-ran\n")
    cli.chmod(0o755)
    lead = write_bundle(bundle, gpu_spec(["PATH=/bin", f"NVIDIA_VISIBLE_DEVICES={devices}"]),
                        f'[nvidia-container-cli]\npath = "{cli}"\n'
                        '[nvidia-container-runtime-hook]\nskip-mode-detection = true\n')
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": "/x"}
    proc = subprocess.run([*classes.command("hook.main:main"), *lead, "prestart"], input=state(bundle),
                          capture_output=True, cwd=bundle, env=env)
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "cli-ran").exists() is cli_ran
    assert classes.created(proc.stderr) == []
    failed = subprocess.run([*classes.command("hook.main:main"), *lead, "prestart"], input=b"{",
                            capture_output=True, cwd=bundle, env=env)
    assert failed.returncode == 1 and b"could not decode container state" in failed.stderr
    assert "hook.errors.StateError" in classes.created(failed.stderr)


def test_explain_refusal_exits_1(tmp_path, monkeypatch, capsys):
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"]), 'nvidia-container-runtime.mode = "cdi"\n')
    out = run([*lead, "explain", "--bundle", str(bundle), "--json"], b"", monkeypatch, capsys)
    r = json.loads(out.stdout)
    assert out.rc == 1 and r["outcome"] == "refuse"
    assert r["mode"] == {"mode": "cdi", "why": "nvidia-container-runtime.mode = 'cdi'"}


def test_console_script_leaves_like_the_launcher():
    """hook.main:entry (console scripts, ``python -m hook``): atexit callbacks and flushed streams, then
    ``_exit`` without interpreter finalisation, as the frozen launcher and an exec of the CLI do."""
    code = ("import atexit, sys, hook.main\n"
            "atexit.register(lambda: sys.stderr.write('atexit ran\\n'))\n"
            "class Finalised:\n"
            "    def __del__(self): sys.stderr.write('finalised\\n')\n"
            "keep = Finalised()\n"
            "sys.argv = ['nvidia-container-runtime-hook', '-version']\n"
            "sys.stdout.write('buffered ')\n"
            "hook.main.entry()\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert (proc.returncode, proc.stdout, proc.stderr) == (
        0, "buffered NVIDIA Container Runtime Hook version 1.20.0\n", "atexit ran\n")
