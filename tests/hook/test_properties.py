"""Property-based: random and mutated states, specs and configs never crash the entry point.

For every input the hook either exits 0 (no-op), execs the CLI with a complete
argument vector, or exits 1 with a message on stderr; never a traceback, never
an "internal error", and never an exec after a failure.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hook_harness import gpu_spec, run, state, write_bundle

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

NAMES = ["NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "CUDA_VERSION", "NVIDIA_REQUIRE_CUDA",
         "NVIDIA_REQUIRE_ARCH", "NVIDIA_DISABLE_REQUIRE", "NVIDIA_MIG_CONFIG_DEVICES", "NVIDIA_MIG_MONITOR_DEVICES",
         "NVIDIA_IMEX_CHANNELS", "DOCKER_RESOURCE_GPU", "PATH"]
VALUES = ["all", "none", "void", "0", "0,1", "", " ", ",", "compute,utility", "foo", "11.0", "v12.4.1", "abc",
          "true", "nvidia.com/gpu=0", "a/b=c", "GPU-0\u00a0", "\x1c", "\ud800", "9.4294967296", "3,3"]

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=False),
                         st.text(max_size=20))
json_values = st.recursive(json_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=12), inner, max_size=4)), max_leaves=12)
_valid_entry = st.tuples(st.sampled_from(NAMES), st.sampled_from(VALUES)).map(lambda t: f"{t[0]}={t[1]}")
# Mostly well-formed entries, so that many examples reach the exec; sometimes arbitrary text.
env_entries = st.one_of(_valid_entry, _valid_entry, _valid_entry, _valid_entry, st.text(max_size=15))
caps = st.one_of(st.none(), st.lists(st.sampled_from(["CAP_SYS_ADMIN", "CAP_CHOWN"])),
                 st.fixed_dictionaries({"bounding": st.lists(st.sampled_from(["CAP_SYS_ADMIN", "CAP_KILL"]))}),
                 json_values)
mounts = st.lists(st.fixed_dictionaries({
    "source": st.sampled_from(["/dev/null", "/dev/../dev/null", "dev/null", "/x"]),
    "destination": st.sampled_from(["/var/run/nvidia-container-devices/", "/run/x"]).flatmap(
        lambda p: st.sampled_from(["GPU0", "cdi/nvidia.com/gpu/0", "cdi/a/b=c", "cdi/x", "imex/1", "all", ""]).map(
            lambda n: p + n))}), max_size=3)
specs = st.fixed_dictionaries({
    "ociVersion": st.sampled_from(["1.0.2", "1.0.0-rc2", "1.0.0-rc5", "garbage", ""]),
    "process": st.fixed_dictionaries({"env": st.lists(env_entries, max_size=6), "capabilities": caps}),
    "root": st.fixed_dictionaries({"path": st.sampled_from(["rootfs", "/abs/rootfs", "", "a/../b"])}),
    "mounts": mounts,
})


# Well-formed GPU requests: most of these reach the exec, so the "complete plan" side is exercised.
BENIGN = {"NVIDIA_VISIBLE_DEVICES": ["all", "0", "0,1", "none", "GPU-1,GPU-2,GPU-1"],
          "NVIDIA_DRIVER_CAPABILITIES": ["compute,utility", "all", "", "video"],
          "CUDA_VERSION": ["11.0", "12.4.1", "v10"], "NVIDIA_REQUIRE_CUDA": ["cuda>=11.0", ""],
          "NVIDIA_IMEX_CHANNELS": ["0", "1,2", "all"], "NVIDIA_DISABLE_REQUIRE": ["true", "no"]}
benign_specs = st.fixed_dictionaries({
    "ociVersion": st.sampled_from(["1.0.2", "1.0.0-rc2"]),
    "process": st.fixed_dictionaries({
        "env": st.dictionaries(st.sampled_from(sorted(BENIGN)), st.none(), min_size=1).flatmap(
            lambda keys: st.tuples(*[st.sampled_from(BENIGN[k]).map(lambda v, k=k: f"{k}={v}") for k in keys])
        ).map(list),
        "capabilities": st.none()}),
    "root": st.fixed_dictionaries({"path": st.sampled_from(["rootfs", "/abs/rootfs"])}),
})


def _mutate(doc, data):
    """Replace one random node of ``doc`` by a random JSON value."""
    if isinstance(doc, dict) and doc and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(sorted(doc)))
        return {**doc, key: _mutate(doc[key], data)}
    if isinstance(doc, list) and doc and data.draw(st.booleans()):
        i = data.draw(st.integers(0, len(doc) - 1))
        return doc[:i] + [_mutate(doc[i], data)] + doc[i + 1:]
    return data.draw(json_values)


CONFIG_KEYS = ["disable-require", "swarm-resource", "supported-driver-capabilities",
               "accept-nvidia-visible-devices-envvar-when-unprivileged",
               "accept-nvidia-visible-devices-as-volume-mounts", "nvidia-container-cli.ldconfig",
               "nvidia-container-cli.environment", "nvidia-container-cli.load-kmods", "nvidia-container-cli.user",
               "nvidia-container-runtime.mode", "nvidia-container-runtime-hook.skip-mode-detection",
               "nvidia-container-runtime.modes.legacy.cuda-compat-mode", "features.allow-ldconfig-from-container",
               "nvidia-container-runtime-hook.injector", "features"]
toml_values = st.one_of(st.booleans(), st.integers(-5, 5), st.sampled_from(
    ['"all"', '"compute"', '"@/sbin/ldconfig"', '"/sbin/ldconfig"', '"legacy"', '"cdi"', '"cli"', '"x,y"', '""',
     '["A=1"]', "[1]", "{}", "1979-05-27"]))
configs = st.lists(st.tuples(st.sampled_from(CONFIG_KEYS), toml_values), max_size=5, unique_by=lambda t: t[0]).map(
    lambda kv: "\n".join(f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in kv) + "\n")


def check(outcome) -> None:
    assert "Traceback" not in outcome.stderr, outcome.stderr
    assert "internal error" not in outcome.stderr, outcome.stderr
    if outcome.cmd is not None:  # exec'd: the plan was complete
        assert outcome.rc is None
        assert outcome.cmd.argv[-2].startswith("--pid=") and outcome.cmd.argv[-1].startswith("/")
        assert "configure" in outcome.cmd.argv
        return
    assert outcome.rc in (0, 1), outcome
    if outcome.rc == 1:
        assert outcome.stderr.endswith("\n") or outcome.stderr == "", outcome.stderr
        assert outcome.stderr.strip(), "a failure must say why"


def _run(spec_bytes: bytes, stdin: bytes | None, config: str | None, monkeypatch, capsys):
    with tempfile.TemporaryDirectory() as tmp:
        bundle = Path(tmp) / "b"
        cli = Path(tmp) / "nvidia-container-cli"
        lead = write_bundle(bundle, spec_bytes, config if config is not None
                            else f'nvidia-container-cli.path = "{cli}"\n')
        data = state(bundle) if stdin is None else stdin
        return run([*lead, "prestart"], data, monkeypatch, capsys, cwd=bundle)


@SETTINGS
@given(spec=specs)
def test_random_specs(spec, monkeypatch, capsys):
    check(_run(json.dumps(spec).encode(), None, None, monkeypatch, capsys))


@SETTINGS
@given(spec=benign_specs)
def test_well_formed_gpu_specs(spec, monkeypatch, capsys):
    check(_run(json.dumps(spec).encode(), None, None, monkeypatch, capsys))


@SETTINGS
@given(spec=st.one_of(specs, benign_specs), data=st.data())
def test_mutated_specs(spec, data, monkeypatch, capsys):
    check(_run(json.dumps(_mutate(spec, data)).encode(), None, None, monkeypatch, capsys))


@SETTINGS
@given(raw=st.binary(max_size=200))
def test_random_spec_bytes(raw, monkeypatch, capsys):
    check(_run(raw, None, None, monkeypatch, capsys))


@SETTINGS
@given(data=st.data())
def test_random_and_mutated_states(data, monkeypatch, capsys):
    kind = data.draw(st.sampled_from(["bytes", "json", "mutated"]))
    if kind == "bytes":
        stdin = data.draw(st.binary(max_size=100))
    elif kind == "json":
        stdin = json.dumps(data.draw(json_values)).encode()
    else:
        doc = {"pid": 42, "bundle": "{bundle}", "bundlePath": ""}
        stdin = json.dumps(_mutate(doc, data)).encode()
    spec = json.dumps(gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"])).encode()
    check(_run(spec, stdin, None, monkeypatch, capsys))


@SETTINGS
@given(config=configs, spec=specs)
def test_random_configs(config, spec, monkeypatch, capsys):
    check(_run(json.dumps(spec).encode(), None, config, monkeypatch, capsys))


@SETTINGS
@given(config=st.text(max_size=80))
def test_random_config_text(config, monkeypatch, capsys):
    spec = json.dumps(gpu_spec(["NVIDIA_VISIBLE_DEVICES=0"])).encode()
    check(_run(spec, None, config, monkeypatch, capsys))
