"""hook.pipeline: one trace that prestart executes and explain renders, with the reasons of the
functions that decide."""

from __future__ import annotations

import json
import os

import pytest

from hook import pipeline
from hook.config import Location
from hook.errors import ConfigError, ModeError
from hook.state import HookState

from hook_harness import gpu_spec, run, state, write_bundle

CLI = "/opt/test/nvidia-container-cli"


def explain(tmp_path, monkeypatch, capsys, env, config="", cwd=None, **spec_kw):
    """``explain --json`` of a bundle with ``env``; the CLI path is configured (no lookup)."""
    bundle = tmp_path / "b"
    if "[nvidia-container-cli]\n" in config:
        config = config.replace("[nvidia-container-cli]\n", f'[nvidia-container-cli]\npath = "{CLI}"\n')
    else:
        config = f'nvidia-container-cli.path = "{CLI}"\n' + config
    lead = write_bundle(bundle, gpu_spec(env, **spec_kw), config)
    out = run([*lead, "explain", "--bundle", str(bundle), "--pid", "42", "--json"], b"", monkeypatch, capsys,
              cwd=cwd)
    return out, json.loads(out.stdout), bundle


def reasons(report: dict, *topics: str) -> list[str]:
    return [r["why"] for r in report["reasons"] if r["topic"] in topics]


def test_explain_shows_the_command_prestart_execs(tmp_path, monkeypatch, capsys):
    """Same trace: explain run from elsewhere resolves the relative rootfs against the bundle, as
    prestart (run by the runtime in the bundle) does."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = ["NVIDIA_VISIBLE_DEVICES=0,1", "NVIDIA_DRIVER_CAPABILITIES=compute,video", "NVIDIA_REQUIRE_ARCH=arch>=7.0"]
    config = "[nvidia-container-runtime-hook]\nskip-mode-detection = true\ninjector = \"cli\"\n"
    out, report, bundle = explain(tmp_path, monkeypatch, capsys, env, config, cwd=elsewhere)
    assert out.rc == 0 and report["outcome"] == "inject"
    lead = ["-config", str(bundle / "hook.toml")]
    executed = run([*lead, "prestart"], state(bundle, pid=42), monkeypatch, capsys, cwd=bundle)
    assert executed.rc is None and executed.stderr == ""
    assert report["command"] == list(executed.cmd.argv)
    assert report["command"][-1] == f"{bundle}/rootfs"


def test_explain_never_changes_the_working_directory(tmp_path, monkeypatch, capsys):
    """The bundle is handed to plan building; explain works even from a removed directory."""
    gone = tmp_path / "gone"
    gone.mkdir()
    monkeypatch.chdir(gone)
    gone.rmdir()
    monkeypatch.setattr(os, "chdir", lambda path: pytest.fail(f"explain changed directory to {path}"))
    bundle = tmp_path / "b"
    lead = write_bundle(bundle, gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"]),
                        f'nvidia-container-cli.path = "{CLI}"\n[nvidia-container-runtime-hook]\n'
                        'skip-mode-detection = true\ninjector = "cli"\n')
    out = run([*lead, "explain", "--bundle", str(bundle), "--json"], b"", monkeypatch, capsys)
    assert (out.rc, out.stderr) == (0, "")
    assert json.loads(out.stdout)["command"][-2:] == ["--pid=PID", f"{bundle}/rootfs"]
    out = run([*lead, "explain", "--json"], b"", monkeypatch, capsys)  # ./config.json, in the removed directory
    assert (out.rc, out.stderr, json.loads(out.stdout)["error"]) == (
        1, "", "could not open OCI spec: open config.json: no such file or directory")


def test_reasons_of_capabilities_requirements_and_config_options(tmp_path, monkeypatch, capsys):
    real = tmp_path / "ldconfig.real"
    real.write_text("")
    config = (f'[nvidia-container-cli]\nldconfig = "@{tmp_path}/ldconfig"\nuser = "1:2"\n'
              "[nvidia-container-runtime-hook]\nskip-mode-detection = true\n")
    env = ["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_REQUIRE_ARCH=arch>=8.0", "NVIDIA_REQUIRE_JETPACK=x"]
    _, report, bundle = explain(tmp_path, monkeypatch, capsys, env, config)
    hook_toml = bundle / "hook.toml"
    assert reasons(report, "capabilities", "requirements", "cuda-compat", "ldconfig", "user") == [
        "default compute,utility (NVIDIA_DRIVER_CAPABILITIES unset), limited by supported-driver-capabilities = "
        "'compat32,compute,display,graphics,ngx,utility,video'",
        "NVIDIA_REQUIRE_* values in environment order (NVIDIA_REQUIRE_JETPACK* excluded)",
        "--cuda-compat-mode=ldconfig from nvidia-container-runtime.modes.legacy.cuda-compat-mode default 'ldconfig'",
        f"@{real} (nvidia-container-cli.ldconfig in {hook_toml} '@{tmp_path}/ldconfig'; the '.real' file decides)",
        f"--user=1:2 (nvidia-container-cli.user in {hook_toml})",
    ]


def test_reasons_of_a_legacy_image_with_disable_require(tmp_path, monkeypatch, capsys):
    config = ('disable-require = true\nsupported-driver-capabilities = "utility,compute,video"\n'
              '[nvidia-container-cli]\nldconfig = "@/nonexistent/ldconfig"\n'
              '[nvidia-container-runtime-hook]\nskip-mode-detection = true\n'
              '[nvidia-container-runtime.modes.legacy]\ncuda-compat-mode = "hook"\n')
    _, report, bundle = explain(tmp_path, monkeypatch, capsys, ["CUDA_VERSION=11.2.1"], config)
    assert report["capabilities"] == ["compute", "utility", "video"] and report["requirements"] == []
    assert reasons(report, "capabilities", "requirements", "cuda-compat", "ldconfig") == [
        "all supported (legacy image, NVIDIA_DRIVER_CAPABILITIES unset), limited by supported-driver-capabilities "
        "= 'utility,compute,video'",
        "none: disable-require = true in the hook config",
        f"--cuda-compat-mode=disabled from nvidia-container-runtime.modes.legacy.cuda-compat-mode in "
        f"{bundle / 'hook.toml'} 'hook'",
        f"@/nonexistent/ldconfig (nvidia-container-cli.ldconfig in {bundle / 'hook.toml'})",
    ]


@pytest.mark.parametrize("env, caps_why, req_why", [
    (["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_DRIVER_CAPABILITIES=", "NVIDIA_DISABLE_REQUIRE=1", "NVIDIA_REQUIRE_X=y"],
     "default compute,utility (NVIDIA_DRIVER_CAPABILITIES is empty)", "none: NVIDIA_DISABLE_REQUIRE='1'"),
    (["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_DRIVER_CAPABILITIES=all"],
     "from NVIDIA_DRIVER_CAPABILITIES='all'", "none: no NVIDIA_REQUIRE_* variable"),
    (["CUDA_VERSION=12.4", "NVIDIA_REQUIRE_BRAND=brand=tesla"],
     "all supported (legacy image, NVIDIA_DRIVER_CAPABILITIES unset)",
     "NVIDIA_REQUIRE_* values in environment order (NVIDIA_REQUIRE_JETPACK* excluded); "
     "cuda>= from CUDA_VERSION='12.4' (legacy image) last"),
])
def test_reasons_from_the_image_model(tmp_path, monkeypatch, capsys, env, caps_why, req_why):
    config = ('[nvidia-container-runtime-hook]\nskip-mode-detection = true\n'
              '[nvidia-container-runtime.modes.legacy]\ncuda-compat-mode = "bogus"\n'
              '[features]\nallow-cuda-compat-libs-from-container = true\n')
    _, report, bundle = explain(tmp_path, monkeypatch, capsys, env, config)
    limit = ", limited by supported-driver-capabilities = 'compat32,compute,display,graphics,ngx,utility,video'"
    assert reasons(report, "capabilities", "requirements", "cuda-compat") == [
        caps_why + limit, req_why,
        f"no flag: nvidia-container-runtime.modes.legacy.cuda-compat-mode in {bundle / 'hook.toml'} 'bogus' "
        "is unknown and allow-cuda-compat-libs-from-container = true"]


# --- the trace itself ----------------------------------------------------------------------------

def trace_of(tmp_path, env, config: str, **kw) -> pipeline.Trace:
    bundle = tmp_path / "t"
    write_bundle(bundle, gpu_spec(env), config)
    location = Location(str(bundle / "hook.toml"), True, "-config")
    return pipeline.trace(location, lambda: HookState(pid=7, bundle=str(bundle)), debug=False, **kw)


def test_a_non_gpu_container_stops_after_the_decision(tmp_path):
    t = trace_of(tmp_path, ["NVIDIA_VISIBLE_DEVICES=void"], "")
    assert (t.failed, t.error, t.is_gpu) == ("", None, False)
    assert t.spec is not None and t.decision is not None
    assert (t.mode, t.plan, t.choice) == (None, None, None)


def test_a_gpu_container_is_traced_to_the_injector(tmp_path):
    t = trace_of(tmp_path, ["NVIDIA_VISIBLE_DEVICES=1"],
                 f'nvidia-container-cli.path = "{CLI}"\n[nvidia-container-runtime-hook]\ninjector = "cli"\n'
                 'skip-mode-detection = true\n')
    assert (t.failed, t.error, t.mode) == ("", None, None)
    assert t.plan.devices == ("1",) and t.plan.pid == 7 and t.plan.cli_path == CLI
    assert (t.choice.kind, t.choice.reason) == ("cli", "injector = 'cli'")


def test_the_first_failure_ends_the_trace(tmp_path):
    warnings: list[str] = []
    t = trace_of(tmp_path, ["NVIDIA_VISIBLE_DEVICES=0"], 'nvidia-container-runtime.mode = "cdi"\n',
                 warn=warnings.append)
    assert t.failed == "mode" and isinstance(t.error, ModeError)
    assert (t.mode.mode, t.plan, t.choice) == ("cdi", None, None)
    t = trace_of(tmp_path, ["NVIDIA_VISIBLE_DEVICES=0"], "disable-require = 1\n")
    assert t.failed == "config" and isinstance(t.error, ConfigError)
    assert (t.config, t.state, t.spec, t.decision) == (None, None, None, None)
    assert warnings == []


# --- the lines prestart prints come from the trace (hook.md §1.7, §9.4) ------------------------

AUTO = f'nvidia-container-cli.path = "{CLI}"\n[nvidia-container-runtime-hook]\ninjector = "cli"\n'


@pytest.mark.parametrize("env, config, lines, failed", [
    (["NVIDIA_VISIBLE_DEVICES=0"], AUTO, ("Auto-detected mode as 'legacy'",), ""),
    (["NVIDIA_VISIBLE_DEVICES=nvidia.com/gpu=0"], AUTO, ("Auto-detected mode as 'cdi'",), "mode"),
    (["NVIDIA_VISIBLE_DEVICES=a/b=c"], AUTO, ("Auto-detected mode as ''",), "mode"),  # B85: the crash
    (["NVIDIA_VISIBLE_DEVICES=a/b=c"], 'nvidia-container-runtime.mode = "legacy"\n' + AUTO,
     ("Using requested mode 'legacy'",), ""),
    (["NVIDIA_VISIBLE_DEVICES=0"], 'nvidia-container-runtime.mode = "csv"\n' + AUTO,
     ("Using requested mode 'csv'",), "mode"),
    (["NVIDIA_VISIBLE_DEVICES=0"], AUTO + "skip-mode-detection = true\n", (), ""),
    (["NVIDIA_VISIBLE_DEVICES=void"], AUTO, (), ""),
    (["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_MIG_CONFIG_DEVICES=all"], AUTO, (), "decision"),
], ids=["auto", "auto-cdi", "auto-crash", "requested", "requested-refused", "skipped", "non-gpu", "before-mode"])
def test_the_trace_holds_the_lines_prestart_prints(tmp_path, monkeypatch, capsys, env, config, lines, failed):
    """The exact lines, on stderr, before the failure if any; explain shows the same lines."""
    t = trace_of(tmp_path, env, config)
    assert (t.lines, t.failed) == (lines, failed)
    bundle = tmp_path / "t"
    out = run(["-config", str(bundle / "hook.toml"), "prestart"], state(bundle, pid=7), monkeypatch, capsys,
              cwd=bundle)
    assert out.stdout == ""
    printed = out.stderr.splitlines()
    assert printed[:len(lines)] == list(lines)
    assert len(printed) == len(lines) + (1 if failed else 0)  # then the error, if any
    report = json.loads(run(["-config", str(bundle / "hook.toml"), "explain", "--bundle", str(bundle), "--json"],
                            b"", monkeypatch, capsys).stdout)
    assert report.get("lines", []) == list(lines)


def test_explain_text_shows_what_prestart_prints(tmp_path, monkeypatch, capsys):
    trace_of(tmp_path, ["NVIDIA_VISIBLE_DEVICES=a/b=c"], AUTO)  # writes the bundle
    bundle = tmp_path / "t"
    out = run(["-config", str(bundle / "hook.toml"), "explain", "--bundle", str(bundle)], b"", monkeypatch, capsys)
    assert out.rc == 1
    assert "\nprints:        Auto-detected mode as ''\n" in out.stdout


# --- reasons: built for explain only, by the one copy of the decision ---------------------------

@pytest.mark.parametrize("env, config", [
    (["NVIDIA_VISIBLE_DEVICES=0,1", "NVIDIA_DRIVER_CAPABILITIES=compute,video", "NVIDIA_REQUIRE_ARCH=arch>=7.0"], ""),
    (["CUDA_VERSION=11.2.1", "NVIDIA_IMEX_CHANNELS=1"], "disable-require = true\n"),
    (["NVIDIA_VISIBLE_DEVICES=none", "NVIDIA_DRIVER_CAPABILITIES=", "NVIDIA_IMEX_CHANNELS=all"], ""),
    (["NVIDIA_VISIBLE_DEVICES=void"], ""),
    (["NVIDIA_VISIBLE_DEVICES=0", "NVIDIA_MIG_MONITOR_DEVICES=all"], ""),
    (["NVIDIA_VISIBLE_DEVICES=0"], "[features]\nignore-imex-channel-requests = true\n"),
])
@pytest.mark.parametrize("privileged", [True, False])
def test_reasons_are_built_only_when_asked_and_change_nothing(tmp_path, env, config, privileged):
    """prestart's trace has no reason (none is built: decide() gets no why callback); explain's has
    the decision's and the plan's, and the decision, mode, plan and choice are the same."""
    from hook import decide as decide_mod
    from hook.spec import load_spec

    config += f'nvidia-container-cli.path = "{CLI}"\n[nvidia-container-runtime-hook]\ninjector = "cli"\n'
    bundle = tmp_path / "t"
    write_bundle(bundle, gpu_spec(env, caps={"bounding": ["CAP_SYS_ADMIN" if privileged else "CAP_CHOWN"]}),
                 config)
    location = Location(str(bundle / "hook.toml"), True, "-config")
    silent, told = (pipeline.trace(location, lambda: HookState(pid=7, bundle=str(bundle)), debug=False, reasons=r)
                    for r in (False, True))
    assert silent.reasons == ()
    assert told.failed or {topic for topic, _ in told.reasons} >= {"privileged", "devices"}
    assert (silent.decision, silent.mode, silent.plan, silent.choice, silent.failed, silent.lines) == \
        (told.decision, told.mode, told.plan, told.choice, told.failed, told.lines)
    if silent.decision is None:  # the decision failed: explain shows no reason
        assert silent.failed == "decision" and type(silent.error) is type(told.error)
        return
    heard: list = []
    d = decide_mod.decide(silent.config, load_spec(str(bundle / "config.json")), why=lambda *r: heard.append(r))
    assert d == silent.decision and tuple(heard) == told.reasons[:len(heard)]
