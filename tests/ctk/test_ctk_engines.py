"""The engine registry: each runtime's code is imported only when that runtime is configured,
and ``nvidia-ctk cdi`` / ``nvidia-ctk hook`` (the CDI hooks run for every CDI container) import
no runtime-configuration code at all."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from ctk import engines
from ctk.engines.base import Engine

# what a command that configures no runtime must not import
RUNTIME_CONFIG_MODULES = {"ctk.configure", "ctk.runtime_cmd", "ctk.installer", "ctk.installer_cdi",
                          "ctk.sources", "ctk.state", "ctk.plan", "ctk.fileio", "ctk.jsonfmt",
                          "ctk.tomledit", "ctk.gotoml", "ctk.engines.base", "ctk.engines.containerd",
                          "ctk.engines.crio", "ctk.engines.docker", "tomlkit", "tomllib"}


def modules_after(*argv: str, tmp_path=None) -> set[str]:
    """The modules loaded by ``nvidia-ctk argv...`` run in a fresh interpreter."""
    code = ("import contextlib, io, json, sys\n"
            "from ctk.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
            f"    rc = main({list(argv)!r})\n"
            "print(json.dumps({'rc': rc, 'modules': sorted(sys.modules)}))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       cwd=tmp_path)
    out = json.loads(r.stdout.splitlines()[-1])
    assert out["rc"] == 0, r.stderr
    return set(out["modules"])


@pytest.mark.parametrize("argv", [["--version"], ["hook", "--help"], ["cdi", "--help"],
                                  ["hook", "some-future-hook"]])
def test_cdi_and_hook_commands_import_no_runtime_configuration(argv):
    assert modules_after(*argv) & RUNTIME_CONFIG_MODULES == set()


def test_configuring_docker_imports_only_the_docker_engine(tmp_path):
    loaded = modules_after("runtime", "configure", "--dry-run", f"--config={tmp_path}/daemon.json")
    assert "ctk.engines.docker" in loaded
    assert not loaded & {"ctk.engines.containerd", "ctk.engines.crio", "ctk.installer"}


def test_every_registered_engine_implements_the_interface():
    assert engines.NAMES == ("containerd", "crio", "docker")
    for name in engines.NAMES:
        e = engines.get(name)
        assert isinstance(e, Engine) and e.name == name
        assert e.default_config.startswith("/etc/") and e.default_socket.startswith(("/run/", "/var/run/"))
        for method in ("plan_configure", "remove", "default_runtime", "low_level_runtimes", "source"):
            assert getattr(type(e), method) is not getattr(Engine, method) or method == "source", (name, method)
    assert engines.find("podman") is None
    with pytest.raises(KeyError):
        engines.get("podman")


def test_default_drop_in_is_next_to_the_given_config():
    assert engines.get("containerd").drop_in_for("/x/y/config.toml") == "/x/y/conf.d/99-nvidia.toml"
    assert engines.get("crio").drop_in_for("/x/crio.conf") == "/x/crio.conf.d/99-nvidia.toml"
    assert engines.get("crio").drop_in_for("") == "/etc/crio/crio.conf.d/99-nvidia.toml"
    assert engines.get("docker").drop_in_for("/x/daemon.json") == ""


@pytest.mark.parametrize("name, argv, expected", [
    ("docker", ["dockerd", "--config-file", "/a.json"], "/a.json"),
    ("docker", ["dockerd", "--config-file=/b.json", "-c", "/x"], "/b.json"),
    ("containerd", ["containerd", "-c", "/a.toml", "--config=/b.toml"], "/b.toml"),
    ("containerd", ["containerd"], "/etc/containerd/config.toml"),
    ("crio", ["crio", "--config", "/c.conf"], "/c.conf"),
])
def test_daemon_config_is_read_from_the_daemons_command_line(name, argv, expected):
    assert engines.get(name).daemon_config(argv) == expected


def test_docker_daemon_json_is_read_once_for_install(tmp_path, monkeypatch):
    """The installer's snapshot carries the parsed daemon.json: planning does not read it again."""
    from ctk import fileio, installer
    cfg = tmp_path / "daemon.json"
    cfg.write_text('{"runtimes": {"runc": {"path": "/usr/bin/runc"}}}')
    reads = []
    real = fileio.read_optional

    def counting(path, *a, **kw):
        reads.append(path)
        return real(path, *a, **kw)
    monkeypatch.setattr(fileio, "read_optional", counting)
    o = installer.InstallOptions(runtime="docker", config=str(cfg), install_dir=str(tmp_path / "nv"),
                                 state_dir=str(tmp_path / "state"), restart_mode="none")
    installer.install(o, dry_run=True)
    assert reads.count(str(cfg)) == 1
