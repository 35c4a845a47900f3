"""pytest-benchmark benchmarks of the hook's in-process hot paths (not part of the test suite).

    .venv/bin/python -m pytest bench/test_bench_hotpaths.py --benchmark-enable -p no:cacheprovider

(pyproject's addopts disable benchmarks; ``--benchmark-enable`` turns them on.
``testpaths = ["tests"]`` keeps this file out of ``./build.sh test``.)

Spec parse (the hook's gojson decoder against json and orjson on the same 30 KB
spec; then 1 MB, 18 MB and 10,000-level specs), the image model (environment to devices, capabilities, requirements),
config parse, and plan resolution (decision and plan for a GPU spec).
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specs import DEFAULT_CONFIG, gpu_spec, large_spec, nongpu_spec, render  # noqa: E402

from hook import config as config_mod  # noqa: E402
from hook import decide, image, plan as plan_mod, spec as spec_mod, state as state_mod  # noqa: E402

SPECS = {"nongpu": nongpu_spec(), "gpu": gpu_spec(), "large": large_spec()}
DATA = {k: json.dumps(v, indent=2).encode() for k, v in SPECS.items()}
CONFIG_BYTES = DEFAULT_CONFIG.encode()
STATE = json.dumps({"ociVersion": "1.0.2", "id": "x", "status": "creating", "pid": 4242,
                    "bundle": "/run/bundle"}).encode()


@pytest.mark.parametrize("name", list(DATA))
def test_spec_parse_hook(benchmark, name):
    spec = benchmark(spec_mod.parse_spec, DATA[name])
    assert spec is not None


@functools.lru_cache(maxsize=None)
def rendered(name: str) -> bytes:
    return render(name)


@pytest.mark.parametrize("name", ["1mb", "18mb", "deep"])
def test_spec_parse_hook_sizes(benchmark, name):
    """Large and deep specs: the C scanner with the GC paused; deep ones in a thread of their own."""
    spec = benchmark.pedantic(spec_mod.parse_spec, (rendered(name),), rounds=5 if name == "18mb" else 20)
    assert spec.oci_version


@pytest.mark.parametrize("name", ["1mb", "18mb"])  # json.loads stops at its recursion limit: no "deep"
def test_spec_parse_stdlib_json_sizes(benchmark, name):
    """The floor: json.loads (the same C scanner, dicts and ints, the GC running)."""
    benchmark.pedantic(json.loads, (rendered(name),), rounds=5 if name == "18mb" else 20)


def test_spec_parse_stdlib_json_large(benchmark):
    benchmark(json.loads, DATA["large"])


def test_spec_parse_orjson_large(benchmark):
    orjson = pytest.importorskip("orjson")
    benchmark(orjson.loads, DATA["large"])


def test_state_parse(benchmark):
    benchmark(state_mod.parse_state, STATE)


def test_config_parse_default(benchmark):
    benchmark(config_mod.parse, CONFIG_BYTES, "/etc/nvidia-container-runtime/config.toml")


@pytest.mark.parametrize("name", ["gpu", "large"])
def test_image_model(benchmark, name):
    env_list = SPECS[name]["process"]["env"]
    supported = frozenset(config_mod.ALL_CAPS_TEXT.split(","))

    def model():
        env = image.env_map(env_list)
        legacy = image.is_legacy(env)
        names = image.device_variables(env, "")
        return (image.devices_from_env(env, names, legacy),
                image.driver_capabilities(env, legacy, supported),
                image.requirements(env, legacy))

    devices, caps, reqs = benchmark(model)
    assert devices == ["all"]


@pytest.mark.parametrize("name", ["nongpu", "gpu", "large"])
def test_decide(benchmark, name):
    cfg = config_mod.parse(CONFIG_BYTES)
    spec = spec_mod.parse_spec(DATA[name])
    decision = benchmark(decide.decide, cfg, spec, warn=lambda m: None)
    assert decision.is_gpu == (name != "nongpu")


@pytest.mark.parametrize("name", ["gpu", "large"])
def test_plan_resolution(benchmark, name):
    cfg = config_mod.parse(CONFIG_BYTES)
    spec = spec_mod.parse_spec(DATA[name])
    state = state_mod.parse_state(STATE)

    def plan():
        decision = decide.decide(cfg, spec, warn=lambda m: None)
        return plan_mod.build_plan(decision, cfg, spec, state, debug_flag=False)

    result = benchmark(plan)
    assert "configure" in result.cli_args()
