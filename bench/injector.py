#!/usr/bin/env python3
"""The hook's GPU path, whole process: exec of the CLI vs libnvidia-container in-process (fake library).

    .venv/bin/python bench/injector.py [-n 20] [--hook dist/nvidia-container-runtime-hook]
                                       [--lib build/fake/libnvidia-container.so.1] [--json FILE]
    .venv/bin/python bench/injector.py --phases [-n 20]     # where the in-process time goes

Whole process (default): for the typical GPU spec of ``bench/specs.py`` it runs, round after
round, alternating:

* ``cli``: ``injector = "cli"``; the hook execs a static C stand-in for ``nvidia-container-cli``
  that exits at once, so this is the CLI path *without* the CLI's own work (a lower bound);
* ``library``: ``injector = "library"`` with the fake libnvidia-container in dry-run mode (every
  call validated, nothing mounted): the whole configure sequence in-process;
* ``auto``: the default config (``injector = "auto"``) with ``library-path`` naming the fake.

Each run is one posix_spawn + waitpid (wall time); peak RSS comes from the static helper of
``bench/specs.py``.  The real library's own work (driver RPC, mounts, ldconfig) costs the same
in either path and is not part of this comparison; what is compared is what the hook adds.

``--phases`` runs the library path in-process in fresh interpreters (the venv's; module loading
from ``.pyc``) and prints the median of each phase: imports, dlopen + probe, request building,
the library calls, dlclose.

A benchmark, not a test: it asserts nothing about times; it exits 1 only if a run fails.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specs import ROOT, Bench  # noqa: E402
from startup import measure  # noqa: E402

FAKE_LIB = ROOT / "build" / "fake" / "libnvidia-container.so.1"

_PHASES = r"""
import os, sys, time
t0 = time.perf_counter()
from hook.plan import GlobalOptions, Plan
import hook.nvc
t1 = time.perf_counter()
from hook.nvc.binding import load
from hook.nvc.injector import configure
t2 = time.perf_counter()
lib = load(sys.argv[1], "")
t3 = time.perf_counter()
plan = Plan(options=GlobalOptions(), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig",
            no_cgroups=False, devices=("all",), mig_config="", mig_monitor="", imex_channels=(),
            capabilities=("compute", "utility"), requirements=("cuda>=12.0",), pid=os.getpid(),
            rootfs="/nonexistent/rootfs")
from hook.nvc.request import build
build(plan, lib.version)
t4 = time.perf_counter()
configure(plan, lib)
t5 = time.perf_counter()
lib.close()
t6 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
"""
PHASES = ("import hook.nvc", "import binding+injector (_cffi_backend, ffi module)", "dlopen + symbol/version probe",
          "request building", "configure (library calls + selection + requirements)", "dlclose")


def phases(rounds: int, lib: Path) -> int:
    env = {"PATH": "/usr/bin:/bin", "FAKE_NVC_DRY_RUN": "1"}
    samples: list[list[float]] = [[] for _ in PHASES]
    for _ in range(rounds):
        out = subprocess.run([str(ROOT / ".venv" / "bin" / "python"), "-c", _PHASES, str(lib)], env=env,
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
        for i, value in enumerate(out):
            samples[i].append(float(value))
    print(f"in-process phases (venv python, {rounds} fresh interpreters, medians in ms)")
    for name, xs in zip(PHASES, samples):
        print(f"  {statistics.median(xs) * 1e3:7.3f}  {name}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=20)
    parser.add_argument("--hook", default=str(ROOT / "dist" / "nvidia-container-runtime-hook"))
    parser.add_argument("--lib", type=Path, default=FAKE_LIB)
    parser.add_argument("--phases", action="store_true", help="time the in-process phases instead")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    if not args.lib.exists():
        print(f"{args.lib} missing: run ./build.sh native", file=sys.stderr)
        return 1
    if args.phases:
        return phases(args.rounds, args.lib)

    bench = Bench()
    try:
        base = bench.config.read_text()
        header = "[nvidia-container-runtime-hook]"
        configs = {}
        for name, keys in (("cli", 'injector = "cli"'), ("library", f'injector = "library"\nlibrary-path = "{args.lib}"'),
                           ("auto", f'library-path = "{args.lib}"')):
            path = bench.dir / f"{name}.toml"
            path.write_text(base.replace(header, f"{header}\n{keys}", 1))
            configs[name] = path
        commands = {name: [args.hook, "-config", str(path), "prestart"] for name, path in configs.items()}
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "FAKE_NVC_DRY_RUN": "1"}
        res = measure(commands, str(bench.states["gpu"]), env, args.rounds, bench.rss_helper)
        print(f"GPU spec, {args.hook}; {args.rounds} rounds, alternating; times in ms")
        print(f"  {'injector':8} {'median':>8} {'min':>8} {'max':>8} {'rss MiB':>8}")
        failed = False
        for name, r in res.items():
            flag = f"  FAILED {r['failures']}/{r['runs']}" if r["failures"] else ""
            failed |= bool(r["failures"])
            print(f"  {name:8} {r['median_ms']:8.2f} {r['min_ms']:8.2f} {r['max_ms']:8.2f} {r['rss_mib']:8.1f}{flag}")
        if args.json:
            args.json.write_text(json.dumps(res, indent=2) + "\n")
        return 1 if failed else 0
    finally:
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
