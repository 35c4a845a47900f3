#!/usr/bin/env python3
"""Whole-process start-up benchmark of the hook: frozen binary, venv entry point, CPython floor.

    .venv/bin/python bench/startup.py [-n 20] [--hook dist/nvidia-container-runtime-hook]
                                      [--floor /path/to/python3.11] [--extra NAME=PROGRAM]
                                      [--pythons] [--cases nongpu,gpu,large] [--json FILE]

For each spec (non-GPU no-op, typical GPU, large 30 KB GPU spec) it runs, in
alternation, round after round: the floor (``python3 -I -S -c pass``, the real
interpreter behind the venv, not a shim), the frozen binary and the venv entry
point (``hook prestart`` with the state on stdin and ``-config`` naming a config
whose CLI is a recorder that exits at once).  Each run is one posix_spawn +
waitpid: wall time; then the peak RSS (ru_maxrss, which spans the exec of the
recorder, so it is the hook's peak).  Prints medians, min, max, peak RSS and the
ratio of medians to the floor's median over the same rounds.

``--pythons`` adds, for every CPython the binary was built with (``dist/py3.X/``,
``./build.sh pythons``), that binary (``frozen3.X``) and that version's own floor
(``floor3.X``, the interpreter behind ``build/venv-3.X`` or the venv); the
``own×`` column is then each binary's CPU-time ratio to the floor of its own version.

Columns: wall-time median, min, max and ``ratio`` (medians, to the floor), then
``cpu`` (median CPU time, user + system, of the child: steadier than wall time on
a loaded machine) and ``cpu×`` (its ratio to the floor's), peak RSS.

A benchmark, not a test: it asserts nothing about times; it exits 1 only if a
run fails (non-zero exit status).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specs import ROOT, Bench  # noqa: E402


def real_python(venv: Path = ROOT / ".venv") -> str:
    """The interpreter behind ``venv`` (its pyvenv.cfg ``executable``, symlinks resolved)."""
    base = getattr(sys, "_base_executable", sys.executable)
    if (venv / "bin" / "python").exists():
        cfg = (venv / "pyvenv.cfg").read_text()
        for line in cfg.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "executable":
                base = value.strip()
    return os.path.realpath(base)


def built_pythons() -> dict[str, tuple[str, str]]:
    """version -> (frozen binary, the real interpreter of that version) for every dist/py3.X/."""
    venv_version = "%d.%d" % tuple(int(x) for x in
                                   os.path.basename(real_python()).removeprefix("python").split(".")[:2])
    out = {}
    for binary in sorted((ROOT / "dist").glob("py3.*/nvidia-container-runtime-hook")):
        version = binary.parent.name[2:]
        venv = ROOT / ".venv" if version == venv_version else ROOT / "build" / f"venv-{version}"
        out[version] = (str(binary), real_python(venv))
    return out


def spawn(argv: list[str], stdin: str, env: dict[str, str]) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, exit status) of one run, stdout and stderr to /dev/null.

    The CPU time (user + system, from wait4) is the child's own: on a loaded machine it moves far
    less than the wall time."""
    elapsed, usage, code = spawn_usage(argv, stdin, env)
    return elapsed, usage.ru_utime + usage.ru_stime, code


def spawn_usage(argv: list[str], stdin: str, env: dict[str, str]):
    """(wall seconds, the child's ``wait4`` resource usage, exit status) of one run (see :func:`spawn`)."""
    fd = os.open(stdin, os.O_RDONLY)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        actions = [(os.POSIX_SPAWN_DUP2, fd, 0), (os.POSIX_SPAWN_DUP2, null, 1),
                   (os.POSIX_SPAWN_DUP2, null, 2)]
        t0 = time.perf_counter_ns()
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        elapsed = (time.perf_counter_ns() - t0) / 1e9
    finally:
        os.close(fd)
        os.close(null)
    return elapsed, usage, os.waitstatus_to_exitcode(status)


def peak_rss(helper: Path | None, argv: list[str], stdin: str, env: dict[str, str]) -> int:
    """The child's own peak RSS in KiB, through the tiny static helper (0 without one).

    Not ru_maxrss of a child of this Python process: posix_spawn uses vfork and the
    kernel then records the parent's high-water mark for the child at exec."""
    if helper is None:
        return 0
    import subprocess
    out = subprocess.run([str(helper), stdin, *argv], env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    return int(out[0])


def measure(commands: dict[str, list[str]], stdin: str, env: dict[str, str], rounds: int,
            helper: Path | None = None, warmup: int = 2) -> dict[str, dict]:
    samples: dict[str, list[float]] = {k: [] for k in commands}
    cpu: dict[str, list[float]] = {k: [] for k in commands}
    failures: dict[str, int] = {k: 0 for k in commands}
    for r in range(warmup + rounds):
        for name, argv in commands.items():
            elapsed, cpu_s, code = spawn(argv, stdin, env)
            if code != 0:
                failures[name] += 1
            if r >= warmup:
                samples[name].append(elapsed)
                cpu[name].append(cpu_s)
    rss = {k: max(peak_rss(helper, argv, stdin, env) for _ in range(3)) for k, argv in commands.items()}
    out = {}
    floor = statistics.median(samples["floor"]) if "floor" in samples else None
    floor_cpu = statistics.median(cpu["floor"]) if "floor" in cpu else None
    for name, xs in samples.items():
        med, med_cpu = statistics.median(xs), statistics.median(cpu[name])
        out[name] = {"median_ms": med * 1e3, "min_ms": min(xs) * 1e3, "max_ms": max(xs) * 1e3,
                     "cpu_ms": med_cpu * 1e3, "rss_mib": rss[name] / 1024,
                     "ratio": (med / floor) if floor else None,
                     "cpu_ratio": (med_cpu / floor_cpu) if floor_cpu else None,
                     "failures": failures[name], "runs": len(xs)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=20)
    parser.add_argument("--hook", default=str(ROOT / "dist" / "nvidia-container-runtime-hook"))
    parser.add_argument("--venv-hook", default=str(ROOT / ".venv" / "bin" / "nvidia-container-runtime-hook"))
    parser.add_argument("--floor", default=None, help="interpreter for the floor (default: the venv's real one)")
    parser.add_argument("--extra", action="append", default=[], metavar="NAME=PROGRAM",
                        help="another hook program to compare (e.g. go=/usr/bin/nvidia-container-runtime-hook)")
    parser.add_argument("--pythons", action="store_true",
                        help="also every dist/py3.X/ binary, with its own version's floor")
    parser.add_argument("--cases", default="nongpu,gpu,large",
                        help="comma-separated, from nongpu, gpu, large (30 KB), 1mb, 18mb, deep (10,000 levels)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)

    floor_py = args.floor or real_python()
    bench = Bench(cases=args.cases.split(","))
    try:
        hooks = {}
        if Path(args.hook).exists():
            hooks["frozen"] = args.hook
        else:
            print(f"note: {args.hook} missing (./build.sh dist); frozen binary skipped", file=sys.stderr)
        if Path(args.venv_hook).exists():
            hooks["venv"] = args.venv_hook
        for item in args.extra:
            name, _, prog = item.partition("=")
            hooks[name] = prog
        floors = {"floor": floor_py}
        own_floor = {}
        if args.pythons:
            for version, (binary, python) in built_pythons().items():
                floor_name = "floor" if python == floor_py else f"floor{version}"
                floors[floor_name] = python
                if os.path.realpath(hooks.get("frozen", "")) == os.path.realpath(binary):
                    del hooks["frozen"]  # the default binary is one of them
                hooks[f"frozen{version}"] = binary
                own_floor[f"frozen{version}"] = floor_name
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}
        results = {"floor_program": floor_py, "rounds": args.rounds, "cases": {}}
        print(f"floor: {floor_py} -I -S -c pass; {args.rounds} rounds, alternating; times in ms")
        failed = False
        for case in args.cases.split(","):
            commands = {name: [py, "-I", "-S", "-c", "pass"] for name, py in floors.items()}
            for name, prog in hooks.items():
                commands[name] = [prog, "-config", str(bench.config), "prestart"]
            res = measure(commands, str(bench.states[case]), env, args.rounds, bench.rss_helper)
            results["cases"][case] = {"spec_bytes": bench.sizes[case], **res}
            print(f"\n{case} spec ({bench.sizes[case]} bytes)")
            print(f"  {'program':10} {'median':>8} {'min':>8} {'max':>8} {'ratio':>6} "
                  f"{'cpu':>6} {'cpu×':>6} {'own×':>6} {'rss MiB':>8}")
            for name, r in res.items():
                if name in own_floor:
                    r["own_cpu_ratio"] = r["cpu_ms"] / res[own_floor[name]]["cpu_ms"]
                own = f"{r['own_cpu_ratio']:6.2f}" if "own_cpu_ratio" in r else f"{'':6}"
                flag = f"  FAILED {r['failures']}/{r['runs']}" if r["failures"] else ""
                failed |= bool(r["failures"])
                print(f"  {name:10} {r['median_ms']:8.2f} {r['min_ms']:8.2f} {r['max_ms']:8.2f} "
                      f"{r['ratio']:6.2f} {r['cpu_ms']:6.2f} {r['cpu_ratio']:6.2f} {own} {r['rss_mib']:8.1f}{flag}")
        if args.json:
            args.json.write_text(json.dumps(results, indent=2) + "\n")
        return 1 if failed else 0
    finally:
        bench.cleanup()


if __name__ == "__main__":
    sys.exit(main())
