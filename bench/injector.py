#!/usr/bin/env python3
"""The hook's GPU path, whole process: exec of the CLI vs libnvidia-container in-process (fake library).

    .venv/bin/python bench/injector.py [-n 20] [--hook dist/nvidia-container-runtime-hook]
                                       [--lib build/fake/libnvidia-container.so.1] [--json FILE]
    .venv/bin/python bench/injector.py --phases [-n 20]     # where the in-process time goes
    .venv/bin/python bench/injector.py --instructions [-n 3] [--deps]   # instructions (callgrind)

Whole process (default): for the typical GPU spec of ``bench/specs.py`` it runs, round after
round, alternating:

* ``cli-noop``: ``injector = "cli"``; the hook execs a static C stand-in for ``nvidia-container-cli``
  that exits at once: the CLI path *without* the CLI's own work (a lower bound);
* ``cli``: ``injector = "cli"``; the hook execs ``bench/fake_cli.c``, a C stand-in for the CLI that
  parses the argv and makes the configure calls through the fake library it is linked with: the CLI
  path as it is with the real CLI (exec, dynamic loading of the library, the same calls);
* ``library``: ``injector = "library"`` with the fake libnvidia-container in dry-run mode (every
  call validated, nothing mounted): the whole configure sequence in-process;
* ``auto``: the default config (``injector = "auto"``) with ``library-path`` naming the fake.

Each run is one posix_spawn + wait4: wall time, CPU time (user + system, steadier than wall time on
a loaded machine) and minor page faults, both including the exec'd CLI and the reaped helpers; peak
RSS comes from the static helper of ``bench/specs.py``.  The real library's own work (NVML, mounts,
ldconfig) costs the same in either path and is not part of this comparison: what is compared is
what each path adds to it.

``--helpers`` makes the fake fork, at ``nvc_init``, the two helper processes the real library forks
(driver and nvcgo RPC helpers), alive until ``nvc_shutdown``: in-process, the hook's larger address
space is what is forked.

``--deps`` builds the fake linked with the real library's dependencies (libtirpc and the Kerberos
libraries behind it, libseccomp, libcap, libelf), so that both paths pay the dynamic linking the real
library costs.

``--instructions`` counts, instead of timing, the instructions each path executes in user space
(``valgrind --tool=callgrind``, children traced, the hook's part dumped before its ``execve``): repeatable
on a loaded machine, where times are not, but blind to the kernel's work (exec, page faults, fork), which
is what the CLI path pays in exchange; so both figures matter.  Not with ``--helpers``.

``--phases`` runs the library path in-process in fresh interpreters (the venv's; module loading
from ``.pyc``) and prints the median of each phase: imports, dlopen + probe, request building,
the library calls, dlclose.

A benchmark, not a test: it asserts nothing about times; it exits 1 only if a run fails.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specs import ROOT, Bench  # noqa: E402
from startup import peak_rss, spawn_usage  # noqa: E402

FAKE_LIB = ROOT / "build" / "fake" / "libnvidia-container.so.1"


# What the real libnvidia-container.so.1 links (libnvidia-container.md §1: libcap, libseccomp, libelf,
# libtirpc and through it the Kerberos libraries): --deps builds the fake with these as DT_NEEDED.
REAL_DEPS = ("libtirpc.so.3", "libseccomp.so.2", "libcap.so.2", "libelf.so.1")


def build_fake_with_deps(directory: Path) -> Path:
    """The fake library (ABI 115) linked with :data:`REAL_DEPS`, so that loading it costs what loading
    the real one costs in dynamic linking."""
    out = directory / "deps" / "libnvidia-container.so.1"
    out.parent.mkdir()
    native = ROOT / "native" / "fake"
    subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-fvisibility=hidden", "-DFAKE_NVC_ABI=115",
                    f'-DFAKE_NVC_DEFAULT_ROOT="{ROOT / "build" / "fake" / "driver"}"', "-o", str(out),
                    *map(str, sorted(native.glob("*.c"))), "-Wl,-soname,libnvidia-container.so.1",
                    "-Wl,--no-as-needed", *(f"-l:{lib}" for lib in REAL_DEPS), "-lpthread"],
                   check=True, capture_output=True)
    return out


def build_fake_cli(directory: Path, lib: Path) -> Path:
    """``bench/fake_cli.c`` linked with the fake library ``lib`` (found through its RUNPATH)."""
    target = directory / "fake-nvidia-container-cli"  # not the no-op recorder's name
    subprocess.run(["gcc", "-O2", "-I", str(ROOT / "native" / "fake"), "-o", str(target),
                    str(ROOT / "bench" / "fake_cli.c"), str(lib), f"-Wl,-rpath,{lib.parent}"],
                   check=True, capture_output=True)
    return target

_PHASES = r"""
import os, sys, time
t0 = time.perf_counter()
from hook.plan import GlobalOptions, Plan
import hook.nvc
t1 = time.perf_counter()
from hook.nvc.configure import configure, load
t2 = time.perf_counter()
lib = load(sys.argv[1], "")
t3 = time.perf_counter()
plan = Plan(options=GlobalOptions(), cuda_compat_mode="ldconfig", ldconfig="@/sbin/ldconfig",
            no_cgroups=False, devices=("all",), mig_config="", mig_monitor="", imex_channels=(),
            capabilities=("compute", "utility"), requirements=("cuda>=12.0",), pid=os.getpid(),
            rootfs="/nonexistent/rootfs")
from hook.nvc.rules import build
build(plan, lib.version)
t4 = time.perf_counter()
configure(plan, lib)
t5 = time.perf_counter()
lib.close()
t6 = time.perf_counter()
print(t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5)
"""
PHASES = ("import hook.nvc", "import rules, configure",
          "load: import _cffi_backend and the ffi module, dlopen, symbol/version probe",
          "request building", "configure (library calls + selection + requirements)", "dlclose")


def run_once(argv: list[str], stdin: str, env: dict[str, str]) -> tuple[float, float, int, int]:
    """(wall seconds, CPU seconds user + system, minor page faults, exit status) of one run; output to
    /dev/null.  CPU time and faults include the children the process reaped (the library's helpers)."""
    wall, usage, code = spawn_usage(argv, stdin, env)
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_minflt, code


def measure(commands: dict[str, list[str]], stdin: str, env: dict[str, str], rounds: int,
            helper: Path | None, warmup: int = 2) -> dict[str, dict]:
    """Alternating rounds; per command: wall and CPU medians/mins (ms), peak RSS (MiB), failures."""
    wall: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    faults: dict[str, list[int]] = {k: [] for k in commands}
    failures = dict.fromkeys(commands, 0)
    for r in range(warmup + rounds):
        for name, argv in commands.items():
            w, c, f, code = run_once(argv, stdin, env)
            failures[name] += code != 0
            if r >= warmup:
                wall[name].append(w)
                cpu[name].append(c)
                faults[name].append(f)
    out = {}
    for name, argv in commands.items():
        rss = max(peak_rss(helper, argv, stdin, env) for _ in range(3)) / 1024
        out[name] = {"wall_median_ms": statistics.median(wall[name]) * 1e3, "wall_min_ms": min(wall[name]) * 1e3,
                     "cpu_median_ms": statistics.median(cpu[name]) * 1e3, "cpu_min_ms": min(cpu[name]) * 1e3,
                     "minflt": statistics.median(faults[name]), "rss_mib": rss, "failures": failures[name],
                     "runs": rounds}
    return out


def instructions(commands: dict[str, list[str]], stdin: str, env: dict[str, str], directory: Path,
                 rounds: int) -> int:
    """``rounds`` runs of each command under ``valgrind --tool=callgrind --trace-children=yes``: instructions
    executed in user space by the process, the exec'd CLI and the forked helpers (kernel work such as page
    faults is not counted).  Repeatable but for the interpreter's random hash seed (dict and set layouts),
    hence the median.  Prints millions of instructions, in all and per process image (median run)."""
    print(f"GPU spec, instructions executed (callgrind, user space; Mi = 2^20), median of {rounds} runs")
    failed = False
    for name, argv in commands.items():
        runs = []
        for r in range(rounds):
            out = directory / f"callgrind-{name}-{r}"
            out.mkdir()
            with open(stdin, "rb") as fd:
                code = subprocess.run(["valgrind", "--tool=callgrind", "--trace-children=yes", "--dump-before=execve",
                                       f"--callgrind-out-file={out}/%p", *argv], stdin=fd, env=env,
                                      capture_output=True).returncode
            failed |= code != 0
            counts = []  # (program, instructions) in order: a process's part before execve is NNN.1
            for f in sorted(out.iterdir(), key=lambda f: [int(x) for x in f.name.split(".")] + [1 << 30]):
                cmd, total = "?", 0
                for line in f.read_text(errors="replace").splitlines():
                    if line.startswith("cmd: ") and line[5:].split():
                        cmd = os.path.basename(line[5:].split()[0])
                    elif line.startswith(("summary: ", "totals: ")):
                        total = int(line.split()[1])
                counts.append((cmd, total))
            runs.append((sum(n for _, n in counts), counts, code))
        runs.sort(key=lambda run: run[0])
        total, counts, code = runs[len(runs) // 2]
        parts = " + ".join(f"{cmd} {n / 2**20:.2f}" for cmd, n in counts)
        spread = f"(min {runs[0][0] / 2**20:.2f}, max {runs[-1][0] / 2**20:.2f})"
        flag = f"  FAILED (exit {code})" if code else ""
        print(f"  {name:8} {total / 2**20:8.2f} Mi {spread}  = {parts}{flag}")
    return 1 if failed else 0


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
    parser.add_argument("--deps", action="store_true",
                        help="build the fake linked with the real library's dependencies (REAL_DEPS) and use it")
    parser.add_argument("--helpers", action="store_true",
                        help="the fake forks the real library's two helper processes at nvc_init (FAKE_NVC_HELPERS)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    parser.add_argument("--instructions", action="store_true",
                        help="count instructions instead (-n runs each under callgrind, children traced; the median)")
    args = parser.parse_args(argv)
    if not args.lib.exists():
        print(f"{args.lib} missing: run ./build.sh native", file=sys.stderr)
        return 1
    if args.phases:
        return phases(args.rounds, args.lib)
    if args.instructions and args.helpers:
        # A forked child's callgrind counts start from its parent's; and what the helpers cost is the
        # kernel's (fork, copy-on-write faults), which callgrind does not count: use CPU time for that.
        parser.error("--instructions does not measure --helpers (kernel work): compare CPU time instead")

    bench = Bench()
    try:
        base = bench.config.read_text()
        header = "[nvidia-container-runtime-hook]"
        if args.deps:
            args.lib = build_fake_with_deps(bench.dir)
        fake_cli = build_fake_cli(bench.dir, args.lib.resolve())
        with_fake_cli = base.replace(f'path = "{bench.recorder}"', f'path = "{fake_cli}"')
        configs = {}
        for name, text, keys in (("cli-noop", base, 'injector = "cli"'),
                                 ("cli", with_fake_cli, 'injector = "cli"'),
                                 ("library", base, f'injector = "library"\nlibrary-path = "{args.lib}"'),
                                 ("auto", base, f'library-path = "{args.lib}"')):
            path = bench.dir / f"{name}.toml"
            path.write_text(text.replace(header, f"{header}\n{keys}", 1))
            configs[name] = path
        commands = {name: [args.hook, "-config", str(path), "prestart"] for name, path in configs.items()}
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8",
               "FAKE_NVC_DRY_RUN": "1", **({"FAKE_NVC_HELPERS": "1"} if args.helpers else {})}
        if args.instructions:
            return instructions(commands, str(bench.states["gpu"]), env, bench.dir, args.rounds)
        res = measure(commands, str(bench.states["gpu"]), env, args.rounds, bench.rss_helper)
        print(f"GPU spec, {args.hook}; {args.rounds} rounds, alternating; times in ms "
              "(cpu = user + system of the hook process, the exec'd CLI included)")
        print(f"  {'injector':8} {'wall med':>9} {'wall min':>9} {'cpu med':>9} {'cpu min':>9} {'minflt':>7} "
              f"{'rss MiB':>8}")
        failed = False
        for name, r in res.items():
            flag = f"  FAILED {r['failures']}/{r['runs']}" if r["failures"] else ""
            failed |= bool(r["failures"])
            print(f"  {name:8} {r['wall_median_ms']:9.2f} {r['wall_min_ms']:9.2f} {r['cpu_median_ms']:9.2f} "
                  f"{r['cpu_min_ms']:9.2f} {r['minflt']:7.0f} {r['rss_mib']:8.1f}{flag}")
        if args.json:
            args.json.write_text(json.dumps(res, indent=2) + "\n")
        return 1 if failed else 0
    finally:
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
