#!/usr/bin/env python3
"""What ``nvidia-container-runtime`` adds to each kind of runtime call, against calling the runtime directly.

    [sudo] .venv/bin/python bench/shim_overhead.py [-n 20] [--shim PROGRAM] [--json FILE] [--driver-root DIR]

Pass-through calls (``state``, ``delete``, ``kill``, ``start`` of a container that does not exist,
against the real ``runc`` with a private ``--root``; ``--version``) run, in alternation: the
floor (``python -I -S -c pass``, the venv's real interpreter), ``runc`` directly and the shim
(whose config names that ``runc``), the venv console script and the same code under
``python -I -S`` (no ``site``: what the frozen single-file binary runs like).  ``create`` is measured against a stand-in runtime that exits
at once (the shim's own work: scan, config, spec edit, exec), for a GPU and a non-GPU container
in legacy mode, then (on the fake driver of spec_fixtures/fake-driver, built when
``--driver-root`` is not given: needs root) a GPU ``create`` in ``cdi`` mode (a spec file written
by ``nvidia-ctk cdi generate``) and in ``jit-cdi`` mode (the spec generated in memory at each
create), and a non-GPU ``create`` in ``jit-cdi`` mode.  Those cases restore the original
``config.json`` before each run (``cp``, in the direct call too).  The config is the shipped
default config (``nvidia-ctk config default``) with ``mode = "legacy"`` (or the CDI mode) and the runtime's path, so the
TOML reader runs as on a node.  Prints medians, min and the median difference to the direct call
and to the floor; every command is run once first and must exit 0.

A benchmark, not a test: it asserts nothing about times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specs import DEFAULT_CONFIG  # noqa: E402
from startup import ROOT, real_python, spawn  # noqa: E402

GPU_ENV = ["PATH=/usr/bin:/bin", "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"]
PLAIN_ENV = ["PATH=/usr/bin:/bin"]


def spec(env: list[str]) -> dict:
    return {"ociVersion": "1.2.0",
            "process": {"user": {"uid": 0, "gid": 0}, "args": ["sh"], "env": env, "cwd": "/",
                        "capabilities": {"bounding": ["CAP_KILL"]}},
            "root": {"path": "rootfs"}, "hostname": "bench",
            "mounts": [{"destination": "/proc", "type": "proc", "source": "proc"}],
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=20)
    parser.add_argument("--shim", default=str(ROOT / ".venv" / "bin" / "nvidia-container-runtime"))
    parser.add_argument("--json", type=Path)
    parser.add_argument("--driver-root", help="the fake driver root (default: built with mkroot.sh, needs root)")
    args = parser.parse_args(argv)
    runc = shutil.which("runc")
    if runc is None:
        print("shim_overhead: runc missing (./build.sh deps)", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="shimbench-"))
    try:
        stand_in = tmp / "fake-runtime"
        stand_in.write_text("#!/bin/sh\nexit 0\n")
        stand_in.chmod(0o755)
        configs = {}
        for name, runtime in (("runc", runc), ("fake", str(stand_in))):
            path = tmp / f"{name}.toml"
            path.write_text(DEFAULT_CONFIG
                            .replace('runtimes = ["docker-runc", "runc", "crun"]', f'runtimes = ["{runtime}"]')
                            .replace('mode = "auto"', 'mode = "legacy"'))
            configs[name] = path
        driver = args.driver_root or str(tmp / "driver-root")
        cdi_cases = bool(args.driver_root) or os.geteuid() == 0
        if not cdi_cases:
            print("shim_overhead: not root and no --driver-root: the cdi/jit-cdi cases are left out", file=sys.stderr)
        elif not args.driver_root:
            subprocess.run(["sh", str(ROOT / "spec_fixtures" / "fake-driver" / "mkroot.sh"), driver], check=True,
                           capture_output=True)
        specs = tmp / "cdi"
        bindir = Path(args.shim).parent
        if cdi_cases:
            subprocess.run([str(bindir / "nvidia-ctk"), "cdi", "generate", "--driver-root", driver,
                            "--output", str(specs / "nvidia.yaml")], check=True, capture_output=True)
        for mode in ("cdi", "jit-cdi"):  # the spec directory, and the fake driver as driver root
            path = tmp / f"{mode}.toml"
            path.write_text(DEFAULT_CONFIG
                            .replace('runtimes = ["docker-runc", "runc", "crun"]', f'runtimes = ["{stand_in}"]')
                            .replace('mode = "auto"', f'mode = "{mode}"')
                            .replace('spec-dirs = ["/etc/cdi", "/var/run/cdi"]', f'spec-dirs = ["{specs}"]')
                            .replace('#root = "/run/nvidia/driver"', f'root = "{driver}"'))
            configs[mode] = path
        root = tmp / "runc-root"
        root.mkdir()
        floor = [real_python(), "-I", "-S", "-c", "pass"]
        cases = {}

        def nosite(*shim_args: str) -> list[str]:
            code = (f"import sys; sys.path[:0] = {[str(ROOT), sysconfig.get_path('purelib')]!r}; "
                    "from shim.main import main; "
                    f"sys.exit(main({['nvidia-container-runtime', *shim_args]!r}))")
            return [real_python(), "-I", "-S", "-c", code]
        for kind in (["state", "ctr"], ["delete", "ctr"], ["kill", "ctr", "KILL"], ["start", "ctr"]):
            cases[kind[0]] = ({"runc": [runc, "--root", str(root), *kind],
                               "shim": [args.shim, "--root", str(root), *kind],
                               "nosite": nosite("--root", str(root), *kind)}, "runc")
        cases["--version"] = ({"runc": [runc, "--version"], "shim": [args.shim, "--version"],
                               "nosite": nosite("--version")}, "runc")
        for label, env in (("create GPU", GPU_ENV), ("create non-GPU", PLAIN_ENV)):
            bundle = tmp / label.replace(" ", "-")
            bundle.mkdir()
            (bundle / "config.json").write_text(json.dumps(spec(env), indent=2))
            # the shim rewrites the GPU spec on each run; the hook is added once (idempotent)
            cases[label] = ({"direct": [str(stand_in), "create", "--bundle", str(bundle), "ctr"],
                             "shim": [args.shim, "create", "--bundle", str(bundle), "ctr"],
                             "nosite": nosite("create", "--bundle", str(bundle), "ctr")}, "fake")
        cdi_creates = (("create GPU cdi", GPU_ENV, "cdi"), ("create GPU jit-cdi", GPU_ENV, "jit-cdi"),
                       ("create non-GPU jit", PLAIN_ENV, "jit-cdi"))
        for label, env, mode in cdi_creates if cdi_cases else ():
            bundle = tmp / label.replace(" ", "-")
            bundle.mkdir()
            (bundle / "orig.json").write_text(json.dumps(spec(env), indent=2))

            def restoring(*cmd: str, b: Path = bundle) -> list[str]:
                return ["/bin/sh", "-c", f'cp {b}/orig.json {b}/config.json && exec "$@"', "sh", *cmd]
            cases[label] = ({"direct": restoring(str(stand_in), "create", "--bundle", str(bundle), "ctr"),
                             "shim": restoring(args.shim, "create", "--bundle", str(bundle), "ctr"),
                             "nosite": restoring(*nosite("create", "--bundle", str(bundle), "ctr"))}, mode)
        for name, (commands, config) in cases.items():  # every command works before it is timed
            env = {"PATH": "/usr/bin:/bin", "NVIDIA_CTK_CONFIG_FILE_PATH": str(configs[config])}
            for key, cmd in commands.items():
                r = subprocess.run(cmd, env=env, capture_output=True, text=True)
                if r.returncode != 0 and key != "runc" and name not in ("state", "delete", "kill", "start"):
                    print(f"shim_overhead: {name} ({key}) failed: {r.stderr.strip()}", file=sys.stderr)
                    return 1
        results = {}
        print(f"{args.rounds} rounds, alternating; ms (floor = {floor[0]} -I -S -c pass)")
        print(f"  {'call':16} {'direct':>8} {'floor':>8} {'shim':>8} {'added':>8} {'/floor':>7} "
              f"{'-I -S':>8} {'added':>8} {'/floor':>7}")
        for name, (commands, config) in cases.items():
            env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                   "NVIDIA_CTK_CONFIG_FILE_PATH": str(configs[config])}
            samples: dict[str, list[float]] = {"floor": [], **{k: [] for k in commands}}
            for r in range(args.rounds + 2):
                for key, cmd in [("floor", floor), *commands.items()]:
                    elapsed, _cpu, _ = spawn(cmd, os.devnull, env)
                    if r >= 2:
                        samples[key].append(elapsed * 1e3)
            med = {k: statistics.median(v) for k, v in samples.items()}
            direct = med["runc"] if "runc" in med else med["direct"]
            added, added_nosite = med["shim"] - direct, med["nosite"] - direct
            results[name] = {"median_ms": med, "min_ms": {k: min(v) for k, v in samples.items()},
                             "added_ms": added, "added_nosite_ms": added_nosite}
            print(f"  {name:16} {direct:8.2f} {med['floor']:8.2f} {med['shim']:8.2f} {added:+8.2f} "
                  f"{added / med['floor']:7.2f} {med['nosite']:8.2f} {added_nosite:+8.2f} "
                  f"{added_nosite / med['floor']:7.2f}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
