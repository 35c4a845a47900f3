"""configure / unconfigure on real files: style kept, atomic writes with backups, dry-run and
--diff, byte-identical round trips, and faults (races, read-only directory, kill mid-write,
malformed inputs)."""

from __future__ import annotations

import json
import subprocess
import tomllib
from pathlib import Path

import pytest

from ctk import configure as cfgmod
from ctk import sources
from ctk.engines import containerd
from ctk.common import RuntimeOptions
from ctk.errors import ConfigChangedError, WriteError
from faults import KILL_BEFORE_RENAME
from ctk_testlib import ctk


V2_CONFIG = """\
# containerd config, managed by hand
version = 2

[plugins."io.containerd.grpc.v1.cri".containerd]
  default_runtime_name = "crun"   # our default

  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun]
    runtime_type = 'io.containerd.runc.v2'

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.crun.options]
      BinaryName = "/usr/bin/crun"
      SystemdCgroup = true
"""

DAEMON_JSON = """\
{
  "log-driver": "json-file",
  "default-runtime": "crun",
  "runtimes": {
    "crun": {"path": "/usr/bin/crun"}
  },
  "features": {"buildkit": true},
  "max-concurrent-uploads": 5.0
}
"""

CRIO_CONF = """\
# CRI-O
[crio.runtime]
default_runtime = "crun"

[crio.runtime.runtimes.crun]
runtime_path = "/usr/bin/crun"
runtime_root = "/run/crun"
"""


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


# --------------------------------------------------------------------------- containerd

def test_containerd_dropin_keeps_user_file_style_and_round_trips(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(V2_CONFIG)
    top.chmod(0o600)
    drop = tmp_path / "conf.d" / "99-nvidia.toml"
    args = ["runtime", "configure", "--runtime=containerd", f"--config={top}",
            f"--drop-in-config={drop}", "--set-as-default", "--cdi.enabled"]
    r = ctk(*args, state=state)
    assert r.returncode == 0, r.stderr
    # the user's file: only the imports line added, everything else byte-identical
    assert top.read_text() == V2_CONFIG.replace(
        "version = 2\n", f'version = 2\nimports = ["{tmp_path}/conf.d/*.toml"]\n', 1)
    assert oct(top.stat().st_mode & 0o777) == "0o600"
    di = tomllib.loads(drop.read_text())
    cri = di["plugins"]["io.containerd.grpc.v1.cri"]
    assert di["version"] == 2
    assert cri["enable_cdi"] is True
    assert cri["containerd"]["default_runtime_name"] == "nvidia"
    assert cri["containerd"]["runtimes"]["nvidia"] == {
        "runtime_type": "io.containerd.runc.v2",
        "options": {"BinaryName": "/usr/bin/nvidia-container-runtime", "SystemdCgroup": True}}
    # the CRI table is complete in the drop-in (containerd 1.6 replaces it on import)
    assert cri["containerd"]["runtimes"]["crun"]["options"]["BinaryName"] == "/usr/bin/crun"
    # backup of the previous top-level file
    backups = list((state / "backups").iterdir())
    assert [b.read_text() for b in backups] == [V2_CONFIG]
    # second run: nothing changes
    before = (top.read_bytes(), drop.read_bytes())
    assert ctk(*args, state=state).returncode == 0
    assert (top.read_bytes(), drop.read_bytes()) == before

    r = ctk("runtime", "unconfigure", "--runtime=containerd", f"--config={top}",
            f"--drop-in-config={drop}", state=state)
    assert r.returncode == 0, r.stderr
    assert top.read_text() == V2_CONFIG
    assert not drop.exists()
    assert not list((state / "runtime").iterdir())


def test_containerd_missing_file_is_created_then_removed(tmp_path, state):
    top = tmp_path / "etc" / "config.toml"
    drop = tmp_path / "etc" / "conf.d" / "99-nvidia.toml"
    common = ["--runtime=containerd", f"--config={top}", f"--drop-in-config={drop}"]
    assert ctk("runtime", "configure", *common, state=state).returncode == 0
    assert top.read_text() == f'imports = ["{tmp_path}/etc/conf.d/*.toml"]\nversion = 2\n'
    assert oct(top.stat().st_mode & 0o777) == "0o644"
    assert ctk("runtime", "unconfigure", *common, state=state).returncode == 0
    assert not top.exists() and not drop.exists()


def test_containerd_in_place_v2_keeps_the_runtime(tmp_path, state):
    """Upstream loses the runtime with --drop-in-config='' on v2; we edit in place."""
    top = tmp_path / "config.toml"
    top.write_text(V2_CONFIG)
    common = ["--runtime=containerd", f"--config={top}", "--drop-in-config="]
    assert ctk("runtime", "configure", *common, "--set-as-default", state=state).returncode == 0
    tree = tomllib.loads(top.read_text())
    c = tree["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert c["default_runtime_name"] == "nvidia"
    assert c["runtimes"]["nvidia"]["options"]["BinaryName"] == "/usr/bin/nvidia-container-runtime"
    assert "imports" not in tree
    assert top.read_text().startswith("# containerd config, managed by hand\n")
    assert ctk("runtime", "unconfigure", *common, state=state).returncode == 0
    assert top.read_text() == V2_CONFIG


def test_unconfigure_after_user_edit_removes_only_ours_and_restores_default(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(V2_CONFIG)
    common = ["--runtime=containerd", f"--config={top}", "--drop-in-config="]
    assert ctk("runtime", "configure", *common, "--set-as-default", state=state).returncode == 0
    top.write_text(top.read_text().replace("managed by hand", "edited by the admin"))
    r = ctk("runtime", "unconfigure", *common, state=state)
    assert r.returncode == 0, r.stderr
    text = top.read_text()
    assert text.startswith("# containerd config, edited by the admin\n")
    tree = tomllib.loads(text)
    c = tree["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    assert c["default_runtime_name"] == "crun"
    assert "nvidia" not in c["runtimes"]


def test_dry_run_and_diff_write_nothing(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(V2_CONFIG)
    drop = tmp_path / "conf.d" / "99-nvidia.toml"
    common = ["runtime", "configure", "--runtime=containerd", f"--config={top}", f"--drop-in-config={drop}"]
    r = ctk(*common, "--dry-run", state=state)
    assert r.returncode == 0
    assert "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]" in r.stdout
    r = ctk(*common, "--diff", state=state)
    assert r.returncode == 0
    assert r.stdout.startswith(f"--- /dev/null\n+++ {drop}\n")
    assert f"--- {top}\n+++ {top}\n@@ -1,5 +1,6 @@\n" in r.stdout
    assert f'+imports = ["{tmp_path}/conf.d/*.toml"]\n' in r.stdout
    assert top.read_text() == V2_CONFIG
    assert not drop.exists() and not state.exists()


# --------------------------------------------------------------------------- docker

def test_docker_keeps_order_indent_numbers_and_restores_default(tmp_path, state):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    common = ["--runtime=docker", f"--config={cfg}"]
    r = ctk("runtime", "configure", *common, "--set-as-default", "--cdi.enabled", state=state)
    assert r.returncode == 0, r.stderr
    assert cfg.read_text() == """\
{
  "log-driver": "json-file",
  "default-runtime": "nvidia",
  "runtimes": {
    "crun": {"path": "/usr/bin/crun"},
    "nvidia": {
      "args": [],
      "path": "nvidia-container-runtime"
    }
  },
  "features": {"buildkit": true, "cdi": true},
  "max-concurrent-uploads": 5.0
}
"""
    assert ctk("runtime", "unconfigure", *common, state=state).returncode == 0
    assert cfg.read_text() == DAEMON_JSON


def test_docker_unconfigure_semantic_restores_previous_default(tmp_path, state):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    common = ["--runtime=docker", f"--config={cfg}"]
    assert ctk("runtime", "configure", *common, "--set-as-default", state=state).returncode == 0
    cfg.write_text(cfg.read_text().replace('"log-driver": "json-file"', '"log-driver": "local"'))
    assert ctk("runtime", "unconfigure", *common, state=state).returncode == 0
    text = cfg.read_text()
    assert '"default-runtime": "crun"' in text and '"log-driver": "local"' in text
    assert "nvidia" not in text


# --------------------------------------------------------------------------- crio

def test_crio_dropin_and_in_place_round_trip(tmp_path, state):
    top = tmp_path / "crio.conf"
    top.write_text(CRIO_CONF)
    drop = tmp_path / "crio.conf.d" / "99-nvidia.toml"
    r = ctk("runtime", "configure", "--runtime=crio", f"--config={top}", f"--drop-in-config={drop}",
            "--set-as-default", state=state)
    assert r.returncode == 0, r.stderr
    assert top.read_text() == CRIO_CONF
    assert drop.read_text() == """
[crio]

  [crio.runtime]
    default_runtime = "nvidia"

    [crio.runtime.runtimes]

      [crio.runtime.runtimes.nvidia]
        runtime_path = "/usr/bin/nvidia-container-runtime"
        runtime_root = "/run/crun"
        runtime_type = "oci"
"""
    assert ctk("runtime", "unconfigure", "--runtime=crio", f"--config={top}",
               f"--drop-in-config={drop}", state=state).returncode == 0
    assert not drop.exists()
    # in place: upstream overwrote crio.conf with the handler alone
    common = ["--runtime=crio", f"--config={top}", "--drop-in-config="]
    assert ctk("runtime", "configure", *common, "--set-as-default", state=state).returncode == 0
    text = top.read_text()
    assert text.startswith("# CRI-O\n[crio.runtime]\ndefault_runtime = \"nvidia\"\n")
    assert tomllib.loads(text)["crio"]["runtime"]["runtimes"]["crun"]["runtime_root"] == "/run/crun"
    assert ctk("runtime", "unconfigure", *common, state=state).returncode == 0
    assert top.read_text() == CRIO_CONF


def test_oci_hook_mode_uses_hooksd_and_unconfigure_removes_it(tmp_path, state):
    hook = tmp_path / "hooks.d" / "oci-nvidia-hook.json"
    r = ctk("runtime", "configure", "--runtime=crio", "--config-mode=oci-hook",
            f"--oci-hook-path={hook}", "--nvidia-runtime-hook-path=/opt/nv/bin/hook", state=state)
    assert r.returncode == 0
    from hook.hooksd import render
    assert hook.read_text() == render("/opt/nv/bin/hook")
    r = ctk("runtime", "configure", "--config-mode=oci-hook", "--nvidia-runtime-hook-path=rel/hook", state=state)
    assert r.returncode == 1 and "absolute" in r.stderr
    assert ctk("runtime", "unconfigure", "--config-mode=oci-hook", f"--oci-hook-path={hook}",
               state=state).returncode == 0
    assert not hook.exists()


# --------------------------------------------------------------------------- faults

def test_file_changed_between_read_and_write_writes_nothing(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(V2_CONFIG)
    drop = tmp_path / "conf.d" / "99-nvidia.toml"
    req = cfgmod.ConfigureRequest("containerd", str(top), str(drop), sources.FileSource(str(top)),
                                  RuntimeOptions.single("nvidia", "/usr/bin/nvidia-container-runtime"))
    prep = cfgmod.prepare_configure(req)
    top.write_text(V2_CONFIG + "# concurrent edit\n")
    with pytest.raises(ConfigChangedError) as exc:
        cfgmod.commit(prep, str(state))
    assert str(exc.value) == ("the configuration changed since it was read, nothing was written: "
                              f"{top} was modified")
    assert top.read_text() == V2_CONFIG + "# concurrent edit\n"
    assert not drop.exists()


def test_source_recheck_reports_changed_import(tmp_path, state):
    top = tmp_path / "config.toml"
    top.write_text(f'version = 2\nimports = ["{tmp_path}/other/*.toml"]\n')
    (tmp_path / "other").mkdir()
    other = tmp_path / "other" / "a.toml"
    other.write_text('[plugins."io.containerd.grpc.v1.cri".containerd]\ndefault_runtime_name = "runc"\n')
    src = containerd.ContainerdImportsSource(str(top))
    req = cfgmod.ConfigureRequest("containerd", str(top), str(tmp_path / "conf.d" / "99-nvidia.toml"),
                                  src, RuntimeOptions.single("nvidia", "/x"))
    prep = cfgmod.prepare_configure(req)
    other.write_text('[plugins."io.containerd.grpc.v1.cri".containerd]\ndefault_runtime_name = "crun"\n')
    with pytest.raises(ConfigChangedError, match=f"{other} was modified"):
        cfgmod.commit(prep, str(state), recheck_source=True)


def test_read_only_directory_writes_nothing(tmp_path, state):
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "config.toml").write_text(V2_CONFIG)
    subprocess.run(["mount", "--bind", str(ro), str(ro)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(ro)], check=True)
        drop = tmp_path / "conf.d" / "99-nvidia.toml"
        r = ctk("runtime", "configure", "--runtime=containerd", f"--config={ro}/config.toml",
                f"--drop-in-config={drop}", state=state)
        assert r.returncode == 1
        errors = [line for line in r.stderr.splitlines() if "level=error" in line]
        assert len(errors) == 1 and f"directory {ro} is not writable" in errors[0], r.stderr
        assert "Traceback" not in r.stderr
        assert not drop.exists(), "the drop-in must not be written when the top-level file cannot be"
        assert (ro / "config.toml").read_text() == V2_CONFIG
    finally:
        subprocess.run(["umount", str(ro)], check=True)


def test_killed_mid_write_leaves_original(tmp_path, state):
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    r = ctk("runtime", "configure", "--runtime=docker", f"--config={cfg}", state=state,
            env=KILL_BEFORE_RENAME)
    assert r.returncode == -9
    assert cfg.read_text() == DAEMON_JSON


def test_no_fault_injection_through_the_environment(tmp_path, state):
    """The shipped code has no test seam: NVIDIA_CTK_FAULT (which once made it SIGKILL itself before
    the rename) is an ordinary variable; the tests inject the fault from outside (faults.py)."""
    cfg = tmp_path / "daemon.json"
    cfg.write_text(DAEMON_JSON)
    r = ctk("runtime", "configure", "--runtime=docker", f"--config={cfg}", state=state,
            env={"NVIDIA_CTK_FAULT": "kill-before-rename"})
    assert r.returncode == 0, r.stderr
    assert json.loads(cfg.read_text())["runtimes"]["nvidia"] == {"args": [], "path": "nvidia-container-runtime"}


MALFORMED = [
    ("docker", "daemon.json", b"", "unable to load config for runtime docker: EOF"),
    ("docker", "daemon.json", b'{"a":', "unable to load config for runtime docker: unexpected EOF"),
    ("docker", "daemon.json", b"[]", "cannot unmarshal array"),
    ("docker", "daemon.json", b"null", "null"),
    ("docker", "daemon.json", b'\xef\xbb\xbf{}', "byte-order mark"),
    ("docker", "daemon.json", b'{"runtimes": []}', '\\"runtimes\\" in'),
    ("docker", "daemon.json", b'{"runtimes": null}', '\\"runtimes\\" in'),
    ("docker", "daemon.json", b'\xff\xfe', "invalid UTF-8"),
    ("containerd", "config.toml", b"version = \"2\"\n", "unsupported type for version field"),
    ("containerd", "config.toml", b"[plugins\n", "failed to load config"),
    ("containerd", "config.toml", b'{{ template "base" . }}\n', "failed to load config"),
    ("containerd", "config.toml", b"\xff\n", "invalid UTF-8"),
    ("crio", "crio.conf", b"[crio.runtime\n", "unable to load config for runtime crio"),
    # upstream would put the handler somewhere else (dry-run still shows that, for the corpus)
    ("containerd", "config.toml", b'version = 2\nplugins = "x"\n',
     "cannot add runtime nvidia: plugins is a string, not a table in file"),
    ("containerd", "config.toml", b'version = 2\n[plugins."io.containerd.grpc.v1.cri".containerd]\nruntimes = "runc"\n',
     'plugins.\\"io.containerd.grpc.v1.cri\\".containerd.runtimes is a string, not a table'),
    ("crio", "crio.conf", b"[crio.runtime]\nruntimes = 3\n", "crio.runtime.runtimes is an integer, not a table"),
]


@pytest.mark.parametrize("runtime,name,content,needle", MALFORMED)
def test_malformed_input_one_line_error_nothing_written(tmp_path, state, runtime, name, content, needle):
    cfg = tmp_path / name
    cfg.write_bytes(content)
    drop = tmp_path / "drop" / "99-nvidia.toml"
    extra = [] if runtime == "docker" else [f"--drop-in-config={drop}"]
    r = ctk("runtime", "configure", f"--runtime={runtime}", f"--config={cfg}", *extra, state=state)
    assert r.returncode == 1
    errors = [line for line in r.stderr.splitlines() if "level=error" in line]
    assert len(errors) == 1 and needle in errors[0], r.stderr
    assert "Traceback" not in r.stderr
    assert cfg.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir() if p != state) == [name]
    assert not (state / "runtime").exists() and not (state / "backups").exists()


def test_command_source_failure_is_one_line(tmp_path, state):
    r = ctk("runtime", "configure", "--runtime=containerd", f"--config={tmp_path}/c.toml",
            "--config-source=command", f"--executable-path={tmp_path}/nope", "--dry-run", state=state)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1
    assert (f"unable to load config for runtime containerd: failed to load config: failed to run "
            f"command {tmp_path}/nope [config dump]") in r.stderr


def test_malformed_import_pattern_is_one_line(tmp_path, state):
    """containerd refuses a config with a malformed ``imports`` pattern: the effective source fails
    with one line; the file source, which reads no imports, configures and warns."""
    top = tmp_path / "config.toml"
    content = f'version = 2\nimports = ["{tmp_path}/conf.d/[*.toml"]\n'
    top.write_text(content)
    common = ("runtime", "configure", "--runtime=containerd", f"--config={top}",
              f"--drop-in-config={tmp_path}/conf.d/99-nvidia.toml")
    r = ctk(*common, "--config-source=effective", state=state)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert (f'unable to load config for runtime containerd: failed to load config: {top}: imports entry '
            f'\\"{tmp_path}/conf.d/[*.toml\\": syntax error in pattern') in r.stderr
    assert top.read_text() == content and not (tmp_path / "conf.d").exists()
    r = ctk(*common, "--config-source=file", state=state)
    assert r.returncode == 0, r.stderr
    assert (f'{top}: imports entry \\"{tmp_path}/conf.d/[*.toml\\": syntax error in pattern: containerd cannot '
            'load this config') in r.stderr


def test_write_error_is_reported(tmp_path, state):
    from ctk import fileio
    with pytest.raises(WriteError, match="is a directory"):
        fileio.write_atomic(str(tmp_path), b"x")


def test_docker_new_file_uses_reference_layout(tmp_path, state):
    cfg = tmp_path / "etc" / "docker" / "daemon.json"
    r = ctk("runtime", "configure", "--runtime=docker", f"--config={cfg}", "--set-as-default", state=state)
    assert r.returncode == 0, r.stderr
    assert cfg.read_text() == ('{\n    "default-runtime": "nvidia",\n    "runtimes": {\n        "nvidia": {\n'
                               '            "args": [],\n            "path": "nvidia-container-runtime"\n'
                               '        }\n    }\n}')
    assert oct(cfg.stat().st_mode & 0o777) == "0o644"
    assert oct(cfg.parent.stat().st_mode & 0o777) == "0o755"
    assert ctk("runtime", "unconfigure", "--runtime=docker", f"--config={cfg}", state=state).returncode == 0
    assert not cfg.exists()
