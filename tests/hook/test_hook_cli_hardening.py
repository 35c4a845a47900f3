"""The hook's messages for a first-time operator (issue 11, item 17): a wrong type in
config.toml names its key, ``explain --help`` is help, ``explain`` without ``--pid`` does not
pretend the pid is 0."""

from __future__ import annotations

import json

import pytest

from hook_harness import gpu_spec, run, write_bundle

CLI = "/opt/test/nvidia-container-cli"
SKIP = f'[nvidia-container-cli]\npath = "{CLI}"\n[nvidia-container-runtime-hook]\nskip-mode-detection = true\n'


@pytest.mark.parametrize("toml,detail", [
    ('[nvidia-container-cli]\nno-cgroups = "false"\n',
     "nvidia-container-cli.no-cgroups: Can't convert false(string) to bool"),
    ('disable-require = "yes"\n', "disable-require: Can't convert yes(string) to bool"),
    ('[nvidia-container-cli]\nenvironment = "FOO=1"\n',
     "nvidia-container-cli.environment: Can't convert FOO=1(string) to []string(slice)"),
    ('nvidia-container-cli = "x"\n', "nvidia-container-cli: Can't convert x(string) to nvidia-container-cli(struct)"),
])
def test_wrong_type_in_config_names_the_key(tmp_path, monkeypatch, capsys, toml, detail):
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=all"]), toml)
    out = run([*lead, "explain", "--bundle", str(bundle)], b"", monkeypatch, capsys)
    assert out.rc == 1
    assert ("error getting hook config: failed to load config: failed to unmarshal config: " + detail) in out.stdout


@pytest.mark.parametrize("command,usage", [
    ("explain", "explain [--bundle DIR | CONFIG_JSON] [--json] [--pid N]"),
    ("hooks-json", "hooks-json [--hook-path PATH]")])
@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_command_help_is_help_not_an_error(monkeypatch, capsys, command, usage, flag):
    out = run([command, flag], b"", monkeypatch, capsys)
    assert (out.rc, out.stdout, out.stderr) == (
        0, f"Usage: nvidia-container-runtime-hook [-config FILE] {usage}\n", "")


def test_explain_without_pid_shows_a_placeholder_not_pid_0(tmp_path, monkeypatch, capsys):
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=1"]), SKIP)
    out = run([*lead, "explain", "--bundle", str(bundle), "--json"], b"", monkeypatch, capsys)
    r = json.loads(out.stdout)
    assert r["command"][-2:] == ["--pid=<container pid>", f"{bundle}/rootfs"]
    assert "--pid=<container pid>" in r["cli_args"] and "--pid=0" not in r["cli_args"]
    out = run([*lead, "explain", "--bundle", str(bundle), "--pid", "0"], b"", monkeypatch, capsys)
    assert " --pid=0 " in out.stdout          # given explicitly: shown as given
