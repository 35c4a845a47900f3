"""deployments/: the installer DaemonSet is a valid Kubernetes object and its settings are
ones our installer understands."""

from __future__ import annotations

import copy

import kubernetes_validate
import pytest
import yaml

from ctk import installer
from ctk.cli_flags import parse_flags
from paths import ROOT

MANIFEST = ROOT / "deployments" / "nvidia-ctk-installer.yaml"
K8S_VERSION = "1.30.0"


def docs() -> list[dict]:
    return [d for d in yaml.safe_load_all(MANIFEST.read_text()) if d]


def daemonset() -> dict:
    return next(d for d in docs() if d["kind"] == "DaemonSet")


@pytest.mark.parametrize("index", range(2))
def test_manifest_validates_strictly(index):
    doc = docs()[index]
    kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def test_validation_can_fail():
    bad = copy.deepcopy(daemonset())
    del bad["spec"]["selector"]
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)
    bad = copy.deepcopy(daemonset())
    bad["spec"]["template"]["spec"]["containers"][0]["volumeMount"] = []
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, K8S_VERSION, strict=True)


def test_installer_settings_are_understood(monkeypatch):
    ds = daemonset()
    pod = ds["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["command"] == ["nvidia-ctk", "install", "--watch"]
    assert pod["hostPID"] is True and pod["terminationGracePeriodSeconds"] >= 60
    env = {e["name"]: e["value"] for e in c["env"]}
    for k in list(__import__("os").environ):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    p = parse_flags(installer.INSTALL_FLAGS, ["--watch"])
    assert p.values["watch"] is True
    o = installer.options_from_flags(p.values)
    installer.validate(o)
    assert (o.runtime, o.config_path, o.drop_in_path) == (
        "containerd", "/etc/containerd/config.toml", "/etc/containerd/conf.d/99-nvidia.toml")
    assert o.toolkit_root == "/usr/local/nvidia/toolkit" and o.set_as_default is False
    # every host path is mounted at the same path, so imports/paths written are host paths; the
    # host's / is also seen read-only at --host-root, where the injection back end is looked for
    mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
    hosts = {v["name"]: v["hostPath"]["path"] for v in pod["volumes"]}
    assert mounts.pop("host-root") == o.host_root == "/host" and hosts.pop("host-root") == "/"
    assert next(m for m in c["volumeMounts"] if m["name"] == "host-root")["readOnly"] is True
    assert mounts == hosts
    needed = [o.config_path, o.drop_in_path, o.toolkit_root, o.socket or installer.engines.get("containerd").default_socket,
              env["NVIDIA_CTK_STATE_DIR"], env["TOOLKIT_PID_FILE"]]
    for path in needed:
        assert any(path == m or path.startswith(m + "/") for m in mounts.values()), path


@pytest.mark.parametrize("args,env,sources,runtimes", [
    ([], {}, "command,file", ()),
    (["--config-source", "file", "--config-sources=command"], {}, "file,command", ()),
    (["--config-source", "effective, file"], {"RUNTIME_CONFIG_SOURCES": "command"}, "effective,file", ()),
    ([], {"RUNTIME_CONFIG_SOURCES": "file"}, "file", ()),
    (["--nvidia-container-runtime.runtimes", "crun", "--nvidia-container-runtime.runtimes=runc, kata"], {},
     "command,file", ("crun", "runc", "kata")),
    ([], {"NVIDIA_CONTAINER_RUNTIME_RUNTIMES": "runc,,crun"}, "command,file", ("runc", "crun")),
])
def test_installer_list_flags_collect_every_value(monkeypatch, args, env, sources, runtimes):
    """--config-source(s) and --nvidia-container-runtime.runtimes are urfave/cli string slices (§6.1): a
    repeated flag adds its items, commas split them, the command line replaces the environment."""
    for k in ("RUNTIME_CONFIG_SOURCES", "RUNTIME_CONFIG_SOURCE", "NVIDIA_CONTAINER_RUNTIME_RUNTIMES"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    o = installer.options_from_flags(parse_flags(installer.INSTALL_FLAGS, args).values)
    assert (o.config_sources, o.low_level_runtimes) == (sources, runtimes)
