"""``nvidia-ctk install --cdi-enabled``: the management CDI spec generated on the fake driver root,
written atomically into ``--cdi-output-dir``, CDI turned on in the runtime config
(``--enable-cdi-in-runtime``, default ``--cdi-enabled``), and ``uninstall`` taking back exactly
that (spec runtime-config.md section 6.1, E2E-2..5, TK-3, TK-4)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
from pathlib import Path

import pytest

from cdi import output
from cdi.generate import Options, generate
from ctk import configure as cfgmod
from ctk import installer, installer_cdi
from ctk.errors import WriteError
from paths import CTK_BIN as CTK

SPEC = "management.nvidia.com-gpu.yaml"
DAEMON_JSON = '{\n  "runtimes": {"crun": {"path": "/usr/bin/crun"}}\n}\n'


class Node:
    """One node's paths under ``tmp``: docker daemon.json, toolkit dir, state dir, CDI dir."""

    def __init__(self, tmp: Path, driver_root: Path):
        self.tmp = tmp
        self.cfg = tmp / "daemon.json"
        self.cfg.write_text(DAEMON_JSON)
        self.nv = tmp / "nv"
        self.state = tmp / "state"
        self.cdi = tmp / "run" / "cdi"
        self.driver_root = driver_root

    def ctk(self, cmd: str, *extra: str, env: dict | None = None, runtime: str = "docker",
            out_flag: bool = True, umask: int = 0o022) -> subprocess.CompletedProcess:
        """``nvidia-ctk CMD`` for this node (``--cdi-output-dir`` unless not ``out_flag``), with ``env``
        added to an environment without the installer's variables."""
        args = [f"--runtime={runtime}", f"--config={self.cfg}", f"--toolkit-install-dir={self.nv}",
                "--restart-mode=none", f"--state-dir={self.state}", f"--driver-root={self.driver_root}",
                *([f"--cdi-output-dir={self.cdi}"] if out_flag else []), *extra]
        e = {k: v for k, v in os.environ.items() if not k.startswith(("CDI_", "ENABLE_CDI", "RUNTIME"))}
        return subprocess.run([str(CTK), cmd, *args], capture_output=True, text=True, env=dict(e, **(env or {})),
                              umask=umask)

    def options(self, **kw) -> installer.InstallOptions:
        return installer.InstallOptions(runtime="docker", config=str(self.cfg), install_dir=str(self.nv),
                                        restart_mode="none", state_dir=str(self.state),
                                        driver_root=str(self.driver_root), cdi_output_dir=str(self.cdi), **kw)

    def expected_spec(self, vendor: str = "management.nvidia.com", cls: str = "gpu") -> str:
        spec = generate(Options(mode="management", driver_root=str(self.driver_root), vendor=vendor, cls=cls,
                                hook_path=str(self.nv / "toolkit" / "nvidia-cdi-hook")))[0]
        return output.render(spec, "yaml")

    def records(self) -> list[str]:
        d = self.state / "install"
        return sorted(os.listdir(d)) if d.exists() else []


@pytest.fixture
def node(tmp_path, driver_root) -> Node:
    return Node(tmp_path, driver_root)


def last_line(r: subprocess.CompletedProcess) -> str:
    return r.stderr.strip().splitlines()[-1]


def test_cdi_enabled_writes_the_management_spec_and_enables_cdi_uninstall_takes_both_back(node):
    r = node.ctk("install", "--cdi-enabled")
    assert r.returncode == 0, r.stderr
    spec = node.cdi / SPEC
    assert os.listdir(node.cdi) == [SPEC]
    assert spec.read_text() == node.expected_spec()
    assert stat.S_IMODE(spec.stat().st_mode) == 0o644
    hooks = {h["path"] for h in _yaml(spec)["containerEdits"]["hooks"]}
    assert hooks == {str(node.nv / "toolkit" / "nvidia-cdi-hook")}
    # the hook the spec names is in the toolkit and runs the CDI hooks (dispatch on its name)
    h = subprocess.run([str(node.nv / "toolkit" / "nvidia-cdi-hook"), "no-such-hook"], capture_output=True, text=True)
    assert h.returncode == 0 and "no-such-hook" in h.stderr
    assert json.loads(node.cfg.read_text())["features"] == {"cdi": True}
    assert "Wrote CDI spec " + str(spec) in r.stderr

    r = node.ctk("uninstall")      # no --cdi-enabled: the record says what to remove
    assert r.returncode == 0, r.stderr
    assert "Removed CDI spec " + str(spec) in r.stderr
    assert not (node.tmp / "run").exists()          # install created run/cdi: both gone again
    assert node.cfg.read_text() == DAEMON_JSON
    assert node.records() == []


def _yaml(path: Path) -> dict:
    import yaml
    return yaml.safe_load(path.read_text())


def test_spec_and_its_folder_are_readable_by_all_whatever_the_umask(node):
    r = node.ctk("install", "--cdi-enabled", umask=0o077)
    assert r.returncode == 0, r.stderr
    assert stat.S_IMODE(node.cdi.stat().st_mode) == 0o755
    assert stat.S_IMODE((node.cdi / SPEC).stat().st_mode) == 0o644


@pytest.mark.parametrize("flags, env, cdi_in_runtime", [
    (("--cdi-enabled",), {}, True),                                          # E2E-2
    (("--cdi-enabled", "--enable-cdi-in-runtime=false"), {}, False),         # E2E-3
    ((), {"CDI_ENABLED": "true", "RUNTIME_ENABLE_CDI": "false"}, False),
    ((), {"ENABLE_CDI": "true"}, True),
    (("--enable-cdi-in-runtime",), {}, True),                                # CDI in the runtime, no spec
])
def test_enable_cdi_in_runtime_defaults_to_cdi_enabled(node, flags, env, cdi_in_runtime):
    r = node.ctk("install", *flags, env=env)
    assert r.returncode == 0, r.stderr
    assert ("features" in json.loads(node.cfg.read_text())) == cdi_in_runtime
    wants_spec = "--cdi-enabled" in flags or bool(env.get("CDI_ENABLED") or env.get("ENABLE_CDI"))
    assert (node.cdi / SPEC).exists() == wants_spec


def test_cdi_kind_and_output_dir_from_the_environment(node):
    env = {"CDI_ENABLED": "1", "CDI_KIND": "example.com/class", "CDI_OUTPUT_DIR": str(node.cdi)}
    r = node.ctk("install", env=env, out_flag=False)
    assert r.returncode == 0, r.stderr
    assert os.listdir(node.cdi) == ["example.com-class.yaml"]                                  # TK-4
    assert (node.cdi / "example.com-class.yaml").read_text() == node.expected_spec("example.com", "class")
    r = node.ctk("uninstall", env={"CDI_OUTPUT_DIR": str(node.cdi)}, out_flag=False)
    assert r.returncode == 0, r.stderr
    assert not node.cdi.exists()


def test_containerd_drop_in_gets_enable_cdi(node):
    top, drop = node.tmp / "config.toml", node.tmp / "conf.d" / "99-nvidia.toml"
    top.write_text("version = 2\n")
    node.cfg = top
    base = ("--config-source=file", f"--drop-in-config={drop}")
    r = node.ctk("install", *base, "--cdi-enabled", runtime="containerd")                        # E2E-4
    assert r.returncode == 0, r.stderr
    assert "enable_cdi = true" in drop.read_text() and (node.cdi / SPEC).exists()
    r = node.ctk("uninstall", *base, runtime="containerd")
    assert r.returncode == 0, r.stderr
    assert top.read_text() == "version = 2\n" and not drop.exists() and not node.cdi.exists()
    r = node.ctk("install", *base, "--cdi-enabled", "--enable-cdi-in-runtime=false", runtime="containerd")   # E2E-5
    assert r.returncode == 0, r.stderr
    assert "enable_cdi" not in drop.read_text() and (node.cdi / SPEC).exists()


def test_uninstall_restores_a_spec_that_existed_before_even_after_two_installs(node):
    node.cdi.mkdir(parents=True)
    (node.cdi / SPEC).write_text("operator's spec\n")
    (node.cdi / "other.yaml").write_text("other\n")
    for _ in range(2):
        r = node.ctk("install", "--cdi-enabled")
        assert r.returncode == 0, r.stderr
        assert (node.cdi / SPEC).read_text() == node.expected_spec()
    r = node.ctk("uninstall")
    assert r.returncode == 0, r.stderr
    assert "Restored CDI spec" in r.stderr
    assert (node.cdi / SPEC).read_text() == "operator's spec\n"
    assert (node.cdi / "other.yaml").read_text() == "other\n"
    assert node.records() == []


def test_uninstall_leaves_a_spec_changed_since_install(node):
    assert node.ctk("install", "--cdi-enabled").returncode == 0
    (node.cdi / SPEC).write_text("regenerated by someone\n")
    r = node.ctk("uninstall")
    assert r.returncode == 0, r.stderr
    assert f"Leaving CDI spec {node.cdi / SPEC}: it changed since it was installed" in r.stderr
    assert (node.cdi / SPEC).read_text() == "regenerated by someone\n"
    assert node.records() == []


def test_failed_generation_writes_nothing(node, tmp_path):
    empty = tmp_path / "no-driver"
    empty.mkdir()
    r = node.ctk("install", "--cdi-enabled", f"--driver-root={empty}")
    assert r.returncode == 1
    assert last_line(r).endswith('msg="failed to generate CDI spec for management containers: failed to initialize '
                                 'NVML: ERROR_LIBRARY_NOT_FOUND"')
    assert node.cfg.read_text() == DAEMON_JSON and not node.nv.exists() and not node.cdi.exists()


def test_no_device_nodes_is_an_error(node, tmp_path, driver_root):
    nodev = tmp_path / "nodev"
    subprocess.run(["cp", "-a", str(driver_root), str(nodev)], check=True)
    subprocess.run(["sh", "-c", f"rm -rf {nodev}/dev/*"], check=True)
    r = node.ctk("install", "--cdi-enabled", f"--driver-root={nodev}")                             # TK-3
    assert r.returncode == 1
    assert last_line(r).endswith('msg="failed to generate CDI spec for management containers: '
                                 'no NVIDIA device nodes found"')
    assert not node.cdi.exists() and not node.nv.exists()


@pytest.mark.parametrize("flag, message", [
    ("--cdi-kind=nvidia.com", 'invalid CDI class name: invalid class. empty name'),
    ("--cdi-kind=-x/gpu", 'invalid CDI vendor name: invalid vendor. "-x", should start with letter'),
    ("--cdi-output-dir=run/cdi", 'the CDI output dir "run/cdi" is not an absolute path'),
])
def test_bad_cdi_flags_are_one_line_errors(node, flag, message):
    r = node.ctk("install", "--cdi-enabled", flag)
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1
    assert last_line(r).endswith(f'level=error msg="{json.dumps(message)[1:-1]}"')
    assert not node.nv.exists() and node.cfg.read_text() == DAEMON_JSON


def test_dry_run_shows_the_spec_and_writes_nothing(node):
    r = node.ctk("install", "--cdi-enabled", "--dry-run")
    assert r.returncode == 0, r.stderr
    assert f"+++ {node.cdi / SPEC}\n" in r.stdout and "+kind: management.nvidia.com/gpu\n" in r.stdout
    assert not node.cdi.exists() and not node.nv.exists() and not node.state.exists()


def test_failed_runtime_config_write_takes_the_spec_back(node, monkeypatch):
    node.cdi.mkdir(parents=True)
    (node.cdi / SPEC).write_text("before\n")

    def fail(*a, **kw):
        raise WriteError("unable to write daemon.json: disk full")
    monkeypatch.setattr(cfgmod, "commit", fail)
    with pytest.raises(WriteError):
        installer.install(node.options(cdi_enabled=True, enable_cdi=True))
    assert (node.cdi / SPEC).read_text() == "before\n"
    assert node.records() == [] and not (node.nv / "toolkit").exists()


def test_a_record_naming_a_file_outside_the_output_dir_is_refused(node, tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    assert node.ctk("install", "--cdi-enabled").returncode == 0
    rec = node.state / "install" / node.records()[0]
    data = json.loads(rec.read_text())
    data["files"][0]["path"] = str(victim)
    rec.write_text(json.dumps(data))
    r = node.ctk("uninstall")
    assert r.returncode == 1
    assert last_line(r).endswith(f'msg="refusing state record {rec}: it lists {victim}, which is not a CDI spec '
                                 f'in --cdi-output-dir {node.cdi}"')
    assert victim.read_text() == "keep me\n"


def test_record_path_is_per_output_dir(tmp_path):
    a = installer_cdi.record_path(str(tmp_path), "/var/run/cdi")
    assert a == installer_cdi.record_path(str(tmp_path), "/var/run/cdi/")
    assert a != installer_cdi.record_path(str(tmp_path), "/etc/cdi")
