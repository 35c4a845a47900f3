"""nvidia-ctk's command line under hostile or careless input (issue 11): flag values trimmed as
the reference trims them, global flags after the command, help that shows every default and
our own flags, drop-in paths that follow --config, dry run that refuses what the write refuses,
and one-line errors instead of internal errors."""

from __future__ import annotations

import json
import tomllib
import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctk import cli
from ctk.cli_flags import Flag, go_trim_space, parse_flags
from ctk.helptext import CONFIGURE_HELP
from daemons import SighupCounter
from paths import CTK_BIN


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    """``nvidia-ctk ARGS`` in-process: (exit status, stdout, stderr)."""
    monkeypatch.setenv("NVIDIA_CTK_STATE_DIR", str(tmp_path / "state"))
    for var in ("NVIDIA_CTK_DEBUG", "NVIDIA_CTK_QUIET", "NVIDIA_CTK_CONFIG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)

    def _run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        rc = cli.main(list(args))
        out, err = capsys.readouterr()
        return rc, out, err
    return _run


def one_error_line(err: str) -> str:
    """The one error line, which ends standard error (warnings may precede it)."""
    lines = err.splitlines()
    assert [ln for ln in lines if "level=error" in ln] == lines[-1:], err
    assert "internal error" not in err and "Traceback" not in err
    return lines[-1]


# --------------------------------------------------------------------------- item 20: trimming

def test_go_trim_space_is_gos_set_not_pythons():
    assert go_trim_space(" \t\n\v\f\r\x85\xa0\u3000x\u2009 ") == "x"
    assert go_trim_space("\x1cx\x1f") == "\x1cx\x1f"      # str.strip() would remove these


def test_every_flag_argument_is_trimmed_before_parsing():
    flags = [Flag(("runtime",), "string", "docker"), Flag(("set-as-default",), "bool", False),
             Flag(("config",), "string", "")]
    p = parse_flags(flags, ["--runtime=crio ", "--set-as-default=true\t", " --config= /x/c.toml \n"])
    assert p.values == {"runtime": "crio", "set-as-default": True, "config": " /x/c.toml"}
    # a value in the next argument is taken as it is (the reference does not trim it either)
    assert parse_flags(flags, ["--config", " a "]).values["config"] == " a "
    # "--flag=" on a boolean means true, as in the reference
    assert parse_flags(flags, ["--set-as-default="]).values["set-as-default"] is True


def test_untrimmed_values_configure_what_the_operator_meant(run, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"default-runtime": "runc"}\n')
    rc, out, err = run("runtime", "configure", "--runtime=docker ", f"--config={cfg} ",
                       "--set-as-default=true\t", "--nvidia-runtime-name=nvidia ")
    assert rc == 0, err
    assert json.loads(cfg.read_text()) == {"default-runtime": "nvidia",
                                           "runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}
    assert sorted(os.listdir(tmp_path)) == ["daemon.json", "state"]     # no "daemon.json " beside it


# --------------------------------------------------------------------------- item 17: help, global flags

def test_runtime_help_is_the_runtime_commands_help(run):
    for args in (["runtime", "--help"], ["runtime", "-h"], ["runtime"], ["runtime", " --help "]):
        rc, out, _ = run(*args)
        assert rc == 0
        assert out.startswith("NAME:\n   NVIDIA Container Toolkit CLI runtime - ")
        assert "   configure    Add a runtime to the specified container engine\n" in out
        assert "unconfigure" in out and "COMMANDS:\n   runtime configure" not in out


@pytest.mark.parametrize("args", [["runtime", "unconfigure", "--help"], ["install", "--help"],
                                  ["uninstall", "--help"]])
def test_help_shows_defaults_as_values_never_python_reprs(run, args):
    rc, out, _ = run(*args)
    assert rc == 0
    assert "(default: None)" not in out and "(default: True)" not in out and "(default: False)" not in out
    assert '--runtime string' in out and '(default: "docker")' in out
    if args[0] != "runtime":
        assert "signal | systemd | none (default: signal for containerd and docker, systemd for crio)" in out
        assert "make the NVIDIA runtime the default (default: true)" in out
        assert "(default: /run/containerd/containerd.sock or /var/run/docker.sock)" in out


def test_configure_help_lists_our_flags_and_a_usage_error_prints_the_reference_text(run):
    rc, out, _ = run("runtime", "configure", "--help")
    assert rc == 0
    assert "\n   --diff      " in out and "\n   --state-dir string  " in out
    assert out.replace(out[out.index("   --diff"):out.index("   --help, -h")], "") == CONFIGURE_HELP
    rc, out, err = run("runtime", "configure", "--no-such-flag")
    assert rc == 1 and out == CONFIGURE_HELP
    assert "flag provided but not defined: -no-such-flag" in err


def test_global_flags_are_accepted_after_the_subcommand(run, tmp_path):
    cfg = tmp_path / "daemon.json"
    rc, out, err = run("runtime", "configure", f"--config={cfg}", "--dry-run", "--quiet")
    assert rc == 0 and err == ""             # the info line "Config file does not exist" is gone
    assert json.loads(out) == {"runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}
    rc, _, err = run("runtime", "configure", f"--config={cfg}", "--dry-run")
    assert "Config file does not exist" in err
    rc, _, err = run("runtime", "unconfigure", f"--config={cfg}", "--dry-run", "-d")
    assert rc == 0


# --------------------------------------------------------------------------- item 15: drop-in follows --config

@pytest.mark.parametrize("runtime,config,drop_in", [
    ("containerd", "etc/config.toml", "etc/conf.d/99-nvidia.toml"),
    ("crio", "etc/crio.conf", "etc/crio.conf.d/99-nvidia.toml")])
def test_drop_in_default_follows_the_config_file_given(run, tmp_path, runtime, config, drop_in):
    cfg = tmp_path / config
    cfg.parent.mkdir()
    cfg.write_text("version = 2\n" if runtime == "containerd" else "")
    rc, out, err = run("runtime", "configure", f"--runtime={runtime}", f"--config={cfg}", "--diff")
    assert rc == 0, err
    assert f"+++ {tmp_path / drop_in}\n" in out
    assert all(line.startswith(str(tmp_path), 4) for line in out.splitlines() if line.startswith("+++ "))
    rc, _, err = run("runtime", "configure", f"--runtime={runtime}", f"--config={cfg}")
    assert rc == 0, err
    assert (tmp_path / drop_in).is_file()
    rc, _, err = run("runtime", "unconfigure", f"--runtime={runtime}", f"--config={cfg}")
    assert rc == 0, err
    assert not (tmp_path / drop_in).exists()


# --------------------------------------------------------------------------- item 18: dry run = write

@pytest.mark.parametrize("runtime,text,message", [
    ("crio", '[crio.runtime]\nruntimes = "runc"\n',
     "unable to update config: cannot add runtime nvidia: crio.runtime.runtimes is a string, not a table in file {cfg}"),
    ("docker", '{"runtimes": "runc"}',
     'unable to update config: \\"runtimes\\" in {cfg} is a string, not an object')])
def test_dry_run_refuses_what_the_write_refuses_with_the_same_message(run, tmp_path, runtime, text, message):
    cfg = tmp_path / "config"
    cfg.write_text(text)
    results = [run("runtime", "configure", f"--runtime={runtime}", f"--config={cfg}",
                   f"--drop-in-config={tmp_path}/99-nvidia.toml" if runtime == "crio" else "--quiet=false", *mode)
               for mode in (["--dry-run"], ["--diff"], [])]
    for rc, out, err in results:
        assert rc == 1 and out == ""
        assert f'msg="{message.format(cfg=cfg)}"' in one_error_line(err)
    assert cfg.read_text() == text
    assert sorted(os.listdir(tmp_path)) in (["config"], ["config", "state"])     # no drop-in written


def test_containerd_dry_run_refuses_what_the_write_refuses(run, tmp_path):
    """Golden cases containerd-073/075 record the reference's dry-run documents for this config;
    ours are deviations: dry run, diff and write all refuse with the same line."""
    cfg = tmp_path / "config.toml"
    text = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  runtimes = "runc"\n'
    cfg.write_text(text)
    errors = set()
    for mode in (["--dry-run"], ["--diff"], []):
        rc, out, err = run("runtime", "configure", "--runtime=containerd", f"--config={cfg}", *mode)
        assert rc == 1 and out == "", (mode, out, err)
        line = one_error_line(err)
        assert "unable to update config: cannot add runtime nvidia: " in line and "is a string, not a table" in line
        errors.add(line.split(" level=")[1])
    assert len(errors) == 1, errors
    assert cfg.read_text() == text and not (tmp_path / "conf.d").exists()


# --------------------------------------------------------------------------- item 10: one-line errors

def test_unconfigure_with_an_empty_runtime_name_is_a_usage_error(run, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"default-runtime": "runc"}')
    rc, _, err = run("runtime", "unconfigure", "--nvidia-runtime-name=", f"--config={cfg}")
    assert rc == 1
    assert 'msg="the --nvidia-runtime-name flag must not be empty"' in one_error_line(err)


# --------------------------------------------------------------------------- item 16: JSON edits keep text

USER_JSON = """\
{
  "log-opts": {"max-size": "10m", "max-file": "3"},
  "dns": ["10.0.0.2", "10.0.0.3"],
  "runtimes": {
    "crun": {"path": "/usr/bin/crun", "runtimeArgs": ["--debug"]}
  },
  "default-runtime": "crun",
  "registry-mirrors" : [ ],
  "escaped\\u0041key":"v\\u00e9",
  "big": 12345678901234567890
}
"""


def test_docker_configure_keeps_untouched_values_as_written(run, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(USER_JSON)
    rc, _, err = run("runtime", "configure", f"--config={cfg}", "--set-as-default", "--cdi.enabled")
    assert rc == 0, err
    assert cfg.read_text() == """\
{
  "log-opts": {"max-size": "10m", "max-file": "3"},
  "dns": ["10.0.0.2", "10.0.0.3"],
  "runtimes": {
    "crun": {"path": "/usr/bin/crun", "runtimeArgs": ["--debug"]},
    "nvidia": {
      "args": [],
      "path": "nvidia-container-runtime"
    }
  },
  "default-runtime": "nvidia",
  "registry-mirrors" : [ ],
  "escaped\\u0041key":"v\\u00e9",
  "big": 12345678901234567000,
  "features": {
    "cdi": true
  }
}
"""
    # an edit by someone else, then unconfigure: only our members go, the rest stays as written
    cfg.write_text(cfg.read_text().replace('"dns": [', '"dns":[ "10.0.0.1",'))
    rc, _, err = run("runtime", "unconfigure", f"--config={cfg}")
    assert rc == 0, err
    assert cfg.read_text() == USER_JSON.replace('"dns": [', '"dns":[ "10.0.0.1",').replace(
        "12345678901234567890", "12345678901234567000")


def test_one_line_document_stays_on_one_line(run, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"a": [1, 2], "b": {"x": 1}}')
    rc, _, err = run("runtime", "configure", f"--config={cfg}")
    assert rc == 0, err
    assert cfg.read_text() == ('{"a": [1, 2], "b": {"x": 1}, '
                               '"runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}')


_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6),
                          st.text(max_size=5), st.floats(allow_nan=False, allow_infinity=False))
_json_values = st.recursive(_json_scalars, lambda c: st.lists(c, max_size=3)
                            | st.dictionaries(st.text(max_size=4), c, max_size=3), max_leaves=12)


@settings(max_examples=150, deadline=None)
@given(tree=st.dictionaries(st.text(max_size=6).filter(lambda k: k != "runtimes"), _json_values, max_size=5),
       indent=st.sampled_from([None, 2, 4, "\t"]), separators=st.sampled_from([(", ", ": "), (",", ":")]),
       default=st.booleans())
def test_edit_changes_exactly_what_configure_changes(tree, indent, separators, default):
    from ctk import jsonfmt
    from ctk.engines import docker
    from ctk.common import RuntimeOptions
    text = json.dumps(tree, indent=indent, separators=separators if indent is None else (",", ": "))
    cfg = docker.DockerConfig("/x/daemon.json", text.encode())
    new = docker.add_runtimes(cfg.tree, RuntimeOptions.single("nvidia", "/p", default), "/x/daemon.json")
    out = cfg.render(new).decode()
    assert jsonfmt._same(jsonfmt.loads(out.encode())[0], new)
    # every member that configure did not touch is written exactly as before
    for m in cfg.doc.span.members:
        if m.key != "default-runtime" and jsonfmt._as_written(cfg.tree[m.key]):
            assert m.key_raw + m.colon + text[m.span.start:m.span.end] in out


# --------------------------------------------------------------------------- item 10: JSON inputs

def test_lone_surrogate_escape_is_kept_not_an_internal_error(run, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"labels": ["\\ud800"]}')
    rc, out, err = run("runtime", "configure", f"--config={cfg}", "--dry-run")
    assert rc == 0 and "internal error" not in err
    assert out == '{"labels": ["\\ud800"], "runtimes": {"nvidia": {"args": [], "path": "nvidia-container-runtime"}}}\n'
    rc, _, err = run("runtime", "configure", f"--config={cfg}")
    assert rc == 0, err
    assert cfg.read_text().startswith('{"labels": ["\\ud800"], "runtimes": ')


@pytest.mark.parametrize("depth", [129, 100_000])
def test_deeply_nested_json_is_a_one_line_error(run, tmp_path, depth):
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"a": ' + "[" * depth + "]" * depth + "}")
    for mode in (["--dry-run"], []):
        rc, out, err = run("runtime", "configure", f"--config={cfg}", *mode)
        assert rc == 1 and out == ""
        assert ('msg="unable to load config for runtime docker: invalid JSON: nested deeper than 128 levels"'
                in one_error_line(err))


def test_json_nested_128_deep_is_accepted(run, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"a": ' + "[" * 127 + "]" * 127 + "}")
    rc, _, err = run("runtime", "configure", f"--config={cfg}", "--dry-run")
    assert rc == 0, err


# --------------------------------------------------------------------------- items 13, 14: installer

HOST_DUMP = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "overlayfs"\n'
PRIVATE = 'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  snapshotter = "native"\n'


def fake_containerd(tmp: Path) -> tuple[Path, Path]:
    """A ``containerd`` whose ``config dump`` prints the --config file, else the host's config."""
    calls = tmp / "calls"
    exe = tmp / "containerd"
    exe.write_text(f'#!/bin/sh\necho "$@" >> {calls}\n'
                   f'if [ "$1" = --config ]; then cat "$2"; else cat <<\'EOF\'\n{HOST_DUMP}EOF\nfi\n')
    exe.chmod(0o755)
    return exe, calls


def test_install_dumps_the_private_config_not_the_hosts(run, tmp_path):
    exe, calls = fake_containerd(tmp_path)
    cfg = tmp_path / "config.toml"
    cfg.write_text(PRIVATE)
    rc, _, err = run("install", "--runtime=containerd", f"--config={cfg}", f"--executable-path={exe}",
                     f"--toolkit-install-dir={tmp_path}/nv", "--restart-mode=none")
    assert rc == 0, err
    assert calls.read_text() == f"--config {cfg} config dump\n" * 2
    drop = tomllib.loads((tmp_path / "conf.d" / "99-nvidia.toml").read_text())
    assert drop["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]["snapshotter"] == "native"


def test_command_source_config_is_the_path_inside_the_host_root():
    from ctk.engines import containerd
    assert containerd.containerd_command("", "/host", "/host/etc/c.toml").argv == (
        "chroot", "/host", "containerd", "--config", "/etc/c.toml", "config", "dump")
    assert containerd.containerd_command("", "/host", "/etc/c.toml").argv[4] == "/etc/c.toml"
    assert containerd.containerd_command("/bin/ctd", "", "").argv == ("/bin/ctd", "config", "dump")


@pytest.mark.parametrize("runtime,argv", [
    ("containerd", ()),                                          # the host's daemon: default config
    ("containerd", ("--config", "/etc/containerd/config.toml")),
    ("docker", ("--config-file=/etc/docker/daemon.json",))])
def test_signal_refuses_a_daemon_that_reads_another_config(run, tmp_path, runtime, argv):
    exe, _ = fake_containerd(tmp_path)
    cfg = tmp_path / ("config.toml" if runtime == "containerd" else "daemon.json")
    cfg.write_text(PRIVATE if runtime == "containerd" else "{}")
    d = SighupCounter(tmp_path, *argv)
    try:
        rc, _, err = run("install", f"--runtime={runtime}", f"--config={cfg}", f"--executable-path={exe}",
                         f"--toolkit-install-dir={tmp_path}/nv", f"--runtime-pid-file={d.pidfile}")
        svc = "containerd" if runtime == "containerd" else "docker"
        theirs = "/etc/containerd/config.toml" if runtime == "containerd" else "/etc/docker/daemon.json"
        assert rc == 1
        assert (f'msg="refusing to signal {svc} (pid {d.proc.pid}): it reads {theirs}, not {cfg}; point '
                f'--socket or --runtime-pid-file at the {svc} daemon that reads {cfg}, or use '
                f'--restart-mode=none (or systemd)"') in one_error_line(err)
        assert d.count() == 0 and d.proc.poll() is None
        # refused before anything was written
        assert cfg.read_text() == (PRIVATE if runtime == "containerd" else "{}")
        assert not (tmp_path / "nv" / "toolkit").exists() and not (tmp_path / "conf.d").exists()
    finally:
        d.stop()


@pytest.mark.parametrize("flag", ["--config", "-c"])
def test_signal_reaches_the_daemon_that_reads_our_config(run, tmp_path, flag):
    exe, _ = fake_containerd(tmp_path)
    cfg = tmp_path / "config.toml"
    cfg.write_text(PRIVATE)
    (tmp_path / "cwd").mkdir()
    d = SighupCounter(tmp_path, flag, "../config.toml", cwd=tmp_path / "cwd")     # relative to the daemon's cwd
    try:
        rc, _, err = run("install", "--runtime=containerd", f"--config={cfg}", f"--executable-path={exe}",
                         f"--toolkit-install-dir={tmp_path}/nv", f"--runtime-pid-file={d.pidfile}")
        assert rc == 0, err
        assert d.count() == 1
    finally:
        d.stop()


def test_systemd_restart_checks_the_units_main_process(run, tmp_path, monkeypatch):
    d = SighupCounter(tmp_path, "--config-file", "/etc/docker/daemon.json")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "systemctl").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/systemctl\n'
                                       f'[ "$1" = show ] && echo {d.proc.pid}\nexit 0\n')
    (bin_dir / "systemctl").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    cfg = tmp_path / "daemon.json"
    cfg.write_text("{}")
    try:
        rc, _, err = run("install", "--runtime=docker", f"--config={cfg}",
                         f"--toolkit-install-dir={tmp_path}/nv", "--restart-mode=systemd")
        assert rc == 1 and f'msg="refusing to restart docker (pid {d.proc.pid}): it reads' in one_error_line(err)
        assert (tmp_path / "systemctl").read_text() == "show --property=MainPID --value docker\n"
        assert cfg.read_text() == "{}"
    finally:
        d.stop()


# --------------------------------------------------------------------------- item 23: log lines

def test_docker_logs_the_file_it_loads(run, tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text("{}")
    rc, _, err = run("runtime", "configure", f"--config={cfg}", "--dry-run")
    assert rc == 0 and f'level=info msg="Loading config from {cfg}"' in err


def test_containerd_dry_run_labels_are_log_lines(run, tmp_path):
    cfg = tmp_path / "config.toml"
    cfg.write_text("version = 2\n")
    rc, _, err = run("runtime", "configure", "--runtime=containerd", f"--config={cfg}", "--dry-run")
    assert rc == 0
    lines = err.splitlines()
    assert lines[-2:] == [ln for ln in lines if "config:" in ln]
    assert lines[-2].endswith(' level=info msg="Drop-in config:"')
    assert lines[-1].endswith(' level=info msg="Top-level config:"')
    rc, _, err = run("runtime", "configure", "--runtime=containerd", f"--config={cfg}", "--dry-run", "--quiet")
    assert rc == 0 and err == ""


def test_crio_parse_error_has_the_references_wording(run, tmp_path):
    cfg = tmp_path / "crio.conf"
    cfg.write_text("[crio.runtime\n")
    rc, _, err = run("runtime", "configure", "--runtime=crio", f"--config={cfg}", "--dry-run")
    line = one_error_line(err)
    assert rc == 1 and 'msg="unable to load config for runtime crio: ' in line
    assert "failed to load config" not in line and str(cfg) not in line


def test_output_to_a_closed_pipe_exits_1_without_an_error_line(tmp_path):
    """``nvidia-ctk ... --dry-run | head -0``: the reader went away, which is no internal error
    (the BrokenPipeError handler sat after ``except Exception`` and never ran)."""
    r, w = os.pipe()
    os.close(r)
    env = {k: v for k, v in os.environ.items() if not k.startswith("NVIDIA_CTK_")}
    try:
        p = subprocess.run([str(CTK_BIN), "runtime", "configure", "--runtime=docker", "--dry-run",
                            f"--config={tmp_path}/daemon.json"], stdout=w, stderr=subprocess.PIPE,
                           text=True, env=env, timeout=60)
    finally:
        os.close(w)
    assert p.returncode == 1
    [line] = p.stderr.splitlines()
    assert line.endswith(' level=info msg="Config file does not exist; using empty config"')
