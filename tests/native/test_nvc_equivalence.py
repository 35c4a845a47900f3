"""Equivalence: every golden case that execs the CLI, run again with injector = "library" and the fake.

For each such case the hook is replayed exactly as spec_fixtures/check_hook.py
does, with two differences: the case's config gets ``injector = "library"``
and ``library-path = <fake>``, and the fake runs in dry-run mode with a
simulated host of 4 GPUs that has every GPU/MIG UUID the corpus names.  The
argv the reference hook gave the CLI (expected.json) is interpreted here,
independently of hook/nvc, into what it means; the fake's call log must mean
exactly that: same init options/config, container config/options (pid,
rootfs, ldconfig, capabilities), devices (in order), MIG and IMEX mounts,
ldcache and cleanup — or, where the CLI would fail, the same stage and detail.
The CLI stand-in must never run.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

import check_hook  # spec_fixtures/check_hook.py (tests/conftest.py puts FIXTURES on sys.path)
from nvc_testlib import FAKE_LIB, FakeLog, require_build
from paths import FIXTURES
from paths import HOOK_BIN as HOOK

CORPUS = FIXTURES / "hook"

GPU_UUIDS = ["GPU-fef8089b-4820-abfc-e83e-94318197576e", "GPU-2f7e5c1a-9c3b-4d6e-8f1a-0b2c3d4e5f60",
             "GPU-00000000-0000-0000-0000-000000000002", "GPU-00000000-0000-0000-0000-000000000003"]
MIG_UUIDS = ["MIG-0ab1c2d3-e4f5-5a6b-8c7d-9e0f1a2b3c4d", "MIG-GPU-fef8089b-4820-abfc-e83e-94318197576e/1/0"]
SIM = ["gpu.count = 4", *(f"gpu.{i}.uuid = {u}" for i, u in enumerate(GPU_UUIDS)),
       "gpu.0.mig_capable = 1", "gpu.0.mig.count = 2",
       f"gpu.0.mig.0.uuid = {MIG_UUIDS[0]}", "gpu.0.mig.0.gi = 1", "gpu.0.mig.0.ci = 0",
       f"gpu.0.mig.1.uuid = {MIG_UUIDS[1]}", "gpu.0.mig.1.gi = 2", "gpu.0.mig.1.ci = 0"]
CAPS = ("compat32", "compute", "display", "graphics", "ngx", "utility", "video")
CUDA_HINT = ", please update your driver to a newer version, or use an earlier cuda container"

# What each corpus requirement means on the simulated host (cuda 12.4, driver 550.54.14, arch 9.0, Tesla):
# (result with a device selected, result with none); None = holds, else the CLI-style detail prefix.
REQUIREMENTS: dict[str, tuple[str | None, str | None]] = {
    "  cuda>=11.0  ": (None, None),
    "": (None, None),  # dsl_evaluate starts from true: an empty --require= holds
    "a=b,c=d": ("invalid expression", "invalid expression"),
    "arch=x86_64": ("invalid expression", None),
    "brand=tesla": (None, None),
    "cuda>=10.1": (None, None), "cuda>=10.2": (None, None), "cuda>=11.0": (None, None),
    "cuda>=11.2": (None, None), "cuda>=12.0": (None, None), "cuda>=8.1": (None, None),
    "driver>=400": (None, None),
    "cuda>=12.2 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471 "
    "brand=nvidia,driver>=470,driver<471": (None, None),
}


def _cases() -> list[Path]:
    out = []
    for case in sorted(CORPUS.iterdir()):
        exp = case / "expected.json"
        if exp.exists() and json.loads(exp.read_text()).get("cli_argv") is not None:
            out.append(case)
    return out


CASES = _cases()


def test_corpus_has_cli_cases():
    assert len(CASES) >= 250


# ------------------------------------------------------------------ the argv's meaning (oracle)

def _resolve_devices(value: str | None) -> tuple[list[int], list[tuple[int, int]], bool] | str:
    """Selected GPU indices, MIG (gpu, index) pairs, "all"; or the unknown token."""
    gpus: list[int] = []
    migs: list[tuple[int, int]] = []
    if not value:
        return gpus, migs, False
    for token in value.split(","):
        if not token:
            continue
        if token.lower() == "all":
            return [0, 1, 2, 3], [(0, 0), (0, 1)], True
        mig = None
        if token.lower() in (u.lower() for u in GPU_UUIDS):
            gpu = [u.lower() for u in GPU_UUIDS].index(token.lower())
        elif re.fullmatch(r" *[0-9]+", token) and int(token) < 4:
            gpu = int(token)
        elif token.lower() in (u.lower() for u in MIG_UUIDS):
            gpu, mig = 0, [u.lower() for u in MIG_UUIDS].index(token.lower())
        elif (m := re.fullmatch(r"([0-9]+):([0-9]+)", token)) and int(m[1]) == 0 and int(m[2]) < 2:
            gpu, mig = 0, int(m[2])
        else:
            return token
        if mig is not None and (0, mig) not in migs:
            migs.append((0, mig))
        if gpu not in gpus:
            gpus.append(gpu)
    return gpus, migs, False


def _user(value: str) -> tuple[int, int] | None:
    u, _, g = value.partition(":")
    try:
        uid = int(u) if u.isdigit() else pwd.getpwnam(u).pw_uid
        gid = int(g) if g.isdigit() else grp.getgrnam(g).gr_gid
    except KeyError:
        return None
    return uid, gid


def meaning(argv: list[str]) -> dict:
    """What the CLI argv asks for on the simulated host: the calls, or the error (stage, detail prefix)."""
    i = argv.index("configure")
    g: dict[str, str | bool] = {}
    for a in argv[:i]:
        k, eq, v = a[2:].partition("=")
        g[k] = v if eq else True
    opts: dict[str, list[str]] = {}
    flags: list[str] = []
    for a in argv[i + 1:-1]:
        k, eq, v = a[2:].partition("=")
        if eq:
            opts.setdefault(k, []).append(v)
        else:
            flags.append(k)
    rootfs = argv[-1]
    pid = int(opts["pid"][0])

    def error(stage: str, detail: str) -> dict:
        return {"error": f"nvidia-container-cli: {stage} error: {detail}"}

    if g.get("no-pivot"):
        return error("input", "the library injector cannot reproduce this request exactly: no-pivot")
    if not 0 < pid < 2**31:
        return error("input", f"the library injector cannot reproduce this request exactly: pid {pid}")
    if not rootfs.startswith("/") or rootfs == "/":
        return error("input", "invalid rootfs directory")
    uidgid = (4294967295, 4294967295)
    if "user" in g:
        found = _user(str(g["user"]))
        if found is None:
            return error("input", f"parse user/group failed: {g['user']}")
        uidgid = found
    imex: list[int] = []
    for token in ",".join(opts.get("imex-channel", [])).split(","):
        if token:
            if not token.isdigit() or int(token) >= 1 << 20:
                return {"error": f"nvidia-container-cli: error parsing IMEX info: unsupported IMEX channel value: {token}"}
            imex.append(int(token))
    devices = ",".join(opts.get("device", [])) or None
    sel = _resolve_devices(devices)
    if isinstance(sel, str):
        return error("device", f"{sel}: unknown device")
    gpus, migs, is_all = sel
    caps_active = {}
    for kind in ("mig-config", "mig-monitor"):
        active = False
        for token in ",".join(opts.get(kind, [])).split(","):
            if token and token.lower() != "all":
                return error(kind, f"{token}: only 'all' devices are currently supported")
            active |= bool(token)
        if active and migs and not is_all:
            return error(kind, f"cannot enable {kind} with specific MIG devices selected")
        caps_active[kind] = active
    for req in opts.get("require", []):
        outcome = REQUIREMENTS[req][0 if gpus else 1]
        if outcome is not None:
            return error("requirement", outcome)
    compat = opts.get("cuda-compat-mode", ["mount"])[0]
    ldconfig = opts.get("ldconfig", [None])[0]
    calls = ["nvc_driver_mount"] + ["nvc_device_mount"] * len(gpus)
    if not any(caps_active.values()):
        calls += ["nvc_mig_device_access_caps_mount"] * len(migs)
    for kind, fn in (("mig-config", "nvc_mig_config_global_caps_mount"),
                     ("mig-monitor", "nvc_mig_monitor_global_caps_mount")):
        if caps_active[kind] and 0 in gpus:  # only GPU 0 is MIG-capable
            calls += [fn, "nvc_device_mig_caps_mount"]
    calls += ["nvc_imex_channel_mount"] * len(imex) + ["nvc_ldcache_update"]
    init_tokens = [t for t in ("load-kmods", "no-create-imex-channels") if g.get(t)]
    return {
        "init_cfg": {"root": g.get("root") or None, "ldcache": g.get("ldcache") or None,
                     "uid": uidgid[0], "gid": uidgid[1], "imex": imex},
        "init_flags": sorted(init_tokens),
        "debug_file": g.get("debug") or None,
        "ccfg": {"pid": pid, "rootfs": rootfs, "bins_dir": None, "libs_dir": None, "libs32_dir": None,
                 "cudart_dir": None, "ldconfig": ldconfig},
        "container_flags": sorted({f"cuda-compat-mode={compat}", "supervised"} | {f for f in flags if f in CAPS}
                                  | ({"no-cgroups"} if "no-cgroups" in flags else set())),
        "driver_opts": None,
        "gpus": [{"index": i, "uuid": GPU_UUIDS[i]} for i in gpus],
        "migs": [{"gpu": 0, "index": m, "uuid": MIG_UUIDS[m]} for _, m in migs] if not any(caps_active.values()) else [],
        "imex": [{"id": c} for c in imex],
        "mounts": calls,
        "ldconfig_argv0": (ldconfig or "/sbin/ldconfig").removeprefix("@"),
    }


# ------------------------------------------------------------------ what the library path did

def observed(log: FakeLog) -> dict:
    recs = log.records()
    fns = [r["fn"] for r in recs]
    if "nvc_init" not in fns:
        return {"calls": fns}
    init = log.first("nvc_init")["args"]
    cnt = log.first("nvc_container_new")["args"]
    first_mount = fns.index("nvc_driver_mount") if "nvc_driver_mount" in fns else len(fns)
    shutdown = fns.index("nvc_shutdown")
    ld = log.all("nvc_ldcache_update")
    return {
        "init_cfg": init["cfg"],
        "init_flags": sorted(init["flags"]),
        "debug_file": init["debug_file"],
        "ccfg": cnt["ccfg"],
        "container_flags": sorted(cnt["flags"]),
        "driver_opts": log.first("nvc_driver_info_new")["args"]["opts"],
        "gpus": [r["args"]["gpu"] for r in log.all("nvc_device_mount")],
        "migs": [r["args"]["mig"] for r in log.all("nvc_mig_device_access_caps_mount")],
        "imex": [r["args"]["chan"] for r in log.all("nvc_imex_channel_mount")],
        "mounts": [f for f in fns[first_mount:shutdown] if f != "nvc_error"],
        "ldconfig_argv0": ld[0]["args"]["argv"][0] if ld else None,
    }


def _with_library(toml: str) -> str:
    keys = f'injector = "library"\nlibrary-path = "{FAKE_LIB}"\n'
    header = "[nvidia-container-runtime-hook]"
    if header in toml:
        return toml.replace(header, header + "\n" + keys, 1)
    return toml + "\n" + header + "\n" + keys


def run_library_mode(case: Path, tmp: Path) -> tuple[int, str, bool, FakeLog]:
    """Replay ``case`` like check_hook.run_case, in library mode; (exit, stderr, cli_ran, log)."""
    setup = check_hook.load_json(case / "setup.json", {}) or {}
    layout = check_hook.Layout(tmp)
    layout.bundle.mkdir(parents=True)
    layout.record.mkdir(parents=True)
    check_hook._write_recorder(layout, layout.cli)
    for rel in setup.get("recorder_copies", []):
        check_hook._write_recorder(layout, layout.bundle / rel)
    for rel, spec in (setup.get("files") or {}).items():
        target = layout.bundle / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(layout.fill(spec.get("content", "")))
        target.chmod(int(spec.get("mode", "0644"), 8))
    if (case / "config.json").exists():
        (layout.bundle / "config.json").write_bytes(layout.fill((case / "config.json").read_text()).encode())
    mode = setup.get("config", "flag")
    config_path = layout.xdg / "nvidia-container-runtime" / "config.toml" if mode == "xdg" else layout.config
    toml = layout.fill((case / "hook-config.toml").read_text()) if (case / "hook-config.toml").exists() else ""
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(_with_library(toml))
    stdin = layout.fill((case / "state.json").read_text()).encode()
    sim = tmp / "sim.conf"
    sim.write_text("\n".join(SIM) + "\n")
    log = FakeLog(tmp / "nvc.jsonl")
    env = {k: v for k, v in os.environ.items() if k not in check_hook.SCRUBBED_ENV and not k.startswith("FAKE_NVC")}
    env.update(PATH=check_hook.FIXED_PATH, PWD=str(layout.bundle), FAKE_NVC_DRY_RUN="1", FAKE_NVC_STRICT="1",
               FAKE_NVC_LOG=str(log.path), FAKE_NVC_CONFIG=str(sim))
    argv = [str(HOOK)]
    if mode == "flag":
        argv += ["-config", str(config_path)]
    elif mode == "env":
        env["NVIDIA_CTK_CONFIG_FILE_PATH"] = str(config_path)
    else:
        env["XDG_CONFIG_HOME"] = str(layout.xdg)
    argv += setup.get("args", ["prestart"])
    proc = subprocess.run(argv, input=stdin, capture_output=True, env=env, cwd=layout.bundle, timeout=60)
    return proc.returncode, layout.unfill(proc.stderr.decode("utf-8", "replace")), layout.argv_file.exists(), log


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_library_mode_means_what_the_argv_means(case):
    require_build()
    assert HOOK.exists(), f"{HOOK} missing: run ./build.sh"
    expected = json.loads((case / "expected.json").read_text())
    tmp = Path(tempfile.mkdtemp(prefix="nvceq-")).resolve()
    try:
        argv = [check_hook.expand_host_tokens(a).replace("{bundle}", str(tmp / "bundle"))
                for a in expected["cli_argv"]]
        want = meaning(argv)
        code, stderr, cli_ran, log = run_library_mode(case, tmp)
        assert not cli_ran, "library mode must not exec nvidia-container-cli"
        if "error" in want:
            assert code == 1, stderr
            assert want["error"].replace(str(tmp / "bundle"), "{bundle}") in stderr
            assert "nvc_driver_mount" not in log.calls() or "requirement" not in want["error"]
        else:
            assert code == 0, stderr
            assert observed(log) == want
            assert log.calls()[-7:] == ["nvc_shutdown", "nvc_container_free", "nvc_device_info_free",
                                        "nvc_driver_info_free", "nvc_container_config_free", "nvc_config_free",
                                        "nvc_context_free"]
            assert log.summary()["live"] == {"ctx": 0, "cfg": 0, "ccfg": 0, "cnt": 0, "drv": 0, "devinfo": 0}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
