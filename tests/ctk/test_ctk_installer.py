"""The installer flow: extract once, toolkit settings from the extracted config, fingerprint
check before writing, restart only on change, uninstall back to the original bytes, --watch."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import tomllib
from pathlib import Path

import pytest

from ctk import installer
from ctk.errors import ConfigChangedError, RestartError, UsageError
from daemons import SighupCounter, wait_for
from paths import CTK_BIN as CTK


DAEMON_JSON = '{\n  "default-runtime": "crun",\n  "runtimes": {"crun": {"path": "/usr/bin/crun"}}\n}\n'

DUMP = """\
version = 2
[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "runc"
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
      BinaryName = "/opt/custom/runc"
"""


@pytest.fixture
def daemon(tmp_path):
    # the config files it "reads", as dockerd and containerd name them on their command line
    d = SighupCounter(tmp_path, "--config-file", str(tmp_path / "daemon.json"),
                      "--config", str(tmp_path / "etc" / "config.toml"))
    yield d
    d.stop()


def docker_opts(tmp_path: Path, daemon: SighupCounter, **kw) -> installer.InstallOptions:
    return installer.InstallOptions(runtime="docker", install_dir=str(tmp_path / "nv"),
                                    config=str(tmp_path / "daemon.json"), restart_mode="signal",
                                    runtime_pid_file=str(daemon.pidfile), state_dir=str(tmp_path / "state"),
                                    **kw)


def test_docker_install_uninstall_restarts_only_on_change(tmp_path, daemon):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    o = docker_opts(tmp_path, daemon)
    out = installer.install(o)
    assert out.low_level == ["/usr/bin/crun", "runc", "crun"]
    assert out.config_changed and daemon.count() == 1
    tree = json.loads(cfg.read_text())
    root = tmp_path / "nv" / "toolkit"
    assert tree["default-runtime"] == "nvidia"
    assert tree["runtimes"]["nvidia-cdi"] == {"args": [], "path": f"{root}/nvidia-container-runtime.cdi"}
    tk = tomllib.loads((root / ".config/nvidia-container-runtime/config.toml").read_text())
    assert tk["nvidia-container-runtime"]["runtimes"] == ["/usr/bin/crun", "runc", "crun"]
    assert tk["nvidia-container-runtime"]["no-driver-fallback"] is True
    assert os.readlink(root / "nvidia-container-runtime") == "nvidia-container-runtime-hook"
    # again: nothing changes, no restart
    out = installer.install(o)
    assert not out.config_changed and daemon.count() == 1
    out = installer.uninstall(o)
    assert out.config_changed and daemon.count() == 2
    assert cfg.read_text() == DAEMON_JSON
    assert not root.exists()


def test_fingerprint_mismatch_writes_nothing(tmp_path, daemon, monkeypatch):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    real_stage = installer.stage_toolkit

    def stage_and_race(o, low, backend):
        stage = real_stage(o, low, backend)
        cfg.write_text(DAEMON_JSON.replace("crun", "runc"))   # someone edits meanwhile
        return stage

    monkeypatch.setattr(installer, "stage_toolkit", stage_and_race)
    with pytest.raises(ConfigChangedError) as exc:
        installer.install(docker_opts(tmp_path, daemon))
    assert str(exc.value) == ("the configuration changed since it was read, nothing was written: "
                              f"{cfg} was modified")
    assert cfg.read_text() == DAEMON_JSON.replace("crun", "runc")
    assert not (tmp_path / "nv").exists()
    assert daemon.count() == 0


def test_containerd_command_source_and_host_path_imports(tmp_path, daemon):
    fake = tmp_path / "containerd"
    calls = tmp_path / "calls"
    fake.write_text(f"#!/bin/sh\necho \"$@\" >> {calls}\ncat <<'EOF'\n{DUMP}EOF\n")
    fake.chmod(0o755)
    top = tmp_path / "etc" / "config.toml"
    top.parent.mkdir()
    top.write_text("version = 2\n")
    drop = tmp_path / "conf.d" / "99-nvidia.toml"
    o = installer.InstallOptions(runtime="containerd", install_dir=str(tmp_path / "nv"), config=str(top),
                                 drop_in=str(drop), drop_in_host_path="/etc/containerd/conf.d/99-nvidia.toml",
                                 executable=str(fake), restart_mode="signal",
                                 runtime_pid_file=str(daemon.pidfile), state_dir=str(tmp_path / "state"))
    out = installer.install(o)
    assert out.low_level == ["/opt/custom/runc", "runc", "crun"]
    # extracted once, fingerprint checked once more before writing
    assert calls.read_text() == f"--config {top} config dump\n" * 2
    assert top.read_text() == 'version = 2\nimports = ["/etc/containerd/conf.d/*.toml"]\n'
    di = tomllib.loads(drop.read_text())
    rts = di["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert rts["default_runtime_name"] == "nvidia"
    assert sorted(rts["runtimes"]) == ["nvidia", "nvidia-cdi", "nvidia-legacy", "runc"]
    assert rts["runtimes"]["nvidia-legacy"]["options"]["BinaryName"] == \
        f"{tmp_path}/nv/toolkit/nvidia-container-runtime.legacy"
    assert daemon.count() == 1
    installer.uninstall(o)
    assert top.read_text() == "version = 2\n" and not drop.exists()
    assert daemon.count() == 2


def test_invalid_options_and_restart_errors(tmp_path):
    with pytest.raises(UsageError, match='invalid runtime "podman"'):
        installer.validate(installer.InstallOptions(runtime="podman"))
    with pytest.raises(UsageError, match="invalid restart mode specified: reboot"):
        installer.validate(installer.InstallOptions(restart_mode="reboot"))
    o = installer.InstallOptions(runtime="docker", restart_mode="signal", socket=str(tmp_path / "none.sock"))
    with pytest.raises(RestartError, match="unable to signal docker"):
        installer.restart(o)
    with pytest.raises(RestartError, match="supporting crio via signal is unsupported"):
        installer.restart(installer.InstallOptions(runtime="crio", restart_mode="signal"))


def test_watch_sets_up_and_cleans_up_on_sigterm(tmp_path, daemon):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    pidfile = tmp_path / "run" / "toolkit.pid"
    env = dict(os.environ, NVIDIA_CTK_STATE_DIR=str(tmp_path / "state"))
    proc = subprocess.Popen([str(CTK), "install", "--watch", "--runtime=docker", f"--config={cfg}",
                             f"--toolkit-install-dir={tmp_path}/nv", "--restart-mode=signal",
                             f"--runtime-pid-file={daemon.pidfile}", f"--pid-file={pidfile}"],
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        wait_for(lambda: daemon.count() >= 1, 30, "the installer to signal the daemon")
        assert json.loads(cfg.read_text())["default-runtime"] == "nvidia"
        assert pidfile.read_text().strip() == str(proc.pid)
        # a second installer is refused
        r = subprocess.run([str(CTK), "install", "--watch", f"--pid-file={pidfile}", "--runtime=docker",
                            f"--config={cfg}", f"--toolkit-install-dir={tmp_path}/nv2"],
                           capture_output=True, text=True, env=env, timeout=30)
        assert r.returncode == 1 and "another installer is running" in r.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert cfg.read_text() == DAEMON_JSON
    assert not pidfile.exists()
    assert not (tmp_path / "nv" / "toolkit").exists()
    assert daemon.count() == 2


def test_cli_install_dry_run_prints_diff(tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    r = subprocess.run([str(CTK), "install", "--dry-run", "--runtime=docker", f"--config={cfg}",
                        f"--toolkit-install-dir={tmp_path}/nv", f"--driver-root={tmp_path}"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    note, _, diff = r.stdout.partition("\n")
    assert note == (f"# toolkit {tmp_path}/nv/toolkit: neither libnvidia-container.so.1 nor nvidia-container-cli was "
                    f"found under the driver root {tmp_path}: GPU containers will fail until the driver's container library "
                    "is installed there")
    assert diff.startswith(f"--- {cfg}\n+++ {cfg}\n")
    assert '+  "default-runtime": "nvidia",' in r.stdout
    assert cfg.read_text() == DAEMON_JSON and not (tmp_path / "nv").exists()


def test_crio_hook_mode_writes_hooks_d_json_without_restart(tmp_path):
    from hook.hooksd import render
    o = installer.InstallOptions(runtime="crio", install_dir=str(tmp_path / "nv"),
                                 config=str(tmp_path / "crio.conf"), crio_config_mode="hook",
                                 hooks_dir=str(tmp_path / "hooks.d"), hook_filename="99-nvidia.json",
                                 restart_mode="signal", state_dir=str(tmp_path / "state"),
                                 config_sources="file")
    out = installer.install(o)          # signal restart would fail for crio: no restart in hook mode
    hook = tmp_path / "hooks.d" / "99-nvidia.json"
    assert out.config_changed and not out.restarted
    assert hook.read_text() == render(f"{tmp_path}/nv/toolkit/nvidia-container-runtime-hook")
    assert out.low_level == ["runc", "crun"]
    installer.uninstall(o)
    assert not hook.exists() and not (tmp_path / "nv" / "toolkit").exists()


def test_no_runtime_config_installs_toolkit_only(tmp_path):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    o = installer.InstallOptions(runtime="docker", install_dir=str(tmp_path / "nv"), config=str(cfg),
                                 no_runtime_config=True, restart_mode="none",
                                 state_dir=str(tmp_path / "state"))
    out = installer.install(o)
    assert not out.config_changed and cfg.read_text() == DAEMON_JSON
    assert (tmp_path / "nv" / "toolkit" / "nvidia-container-runtime").exists()
    installer.uninstall(o)
    assert not (tmp_path / "nv" / "toolkit").exists()


def test_unconfigure_without_record_removes_upstream_style_entries(tmp_path):
    """A file configured by upstream's tool (no record): our handler and default go."""
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{\n  "default-runtime": "nvidia",\n  "runtimes": {\n    "nvidia": {"args": [], '
                   '"path": "nvidia-container-runtime"}\n  },\n  "log-level": "warn"\n}\n')
    r = subprocess.run([str(CTK), "runtime", "unconfigure", "--runtime=docker", f"--config={cfg}",
                        f"--state-dir={tmp_path}/state"], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert cfg.read_text() == '{\n  "log-level": "warn"\n}\n'
