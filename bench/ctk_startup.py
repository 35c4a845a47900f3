#!/usr/bin/env python3
"""Start-up of ``nvidia-ctk`` commands against the CPython floor (venv entry point).

    .venv/bin/python bench/ctk_startup.py [-n 20] [--ctk PATH ...]

Runs, round after round in alternation: the floor (``python -I -S -c pass``), ``nvidia-ctk
--version``, ``nvidia-ctk hook some-future-hook`` (what a CDI hook named by a newer spec costs:
dispatch only), ``nvidia-ctk cdi --help`` and ``nvidia-ctk runtime configure --dry-run`` for
Docker (a missing ``daemon.json``).  Prints the median and the minimum wall time of each, and
the median CPU time of the child (user + system, which stays comparable on a loaded machine).
With several ``--ctk`` (e.g. a console script of another checkout) every command of each runs in
the same rounds, so the comparison is fair on a machine that other jobs load.
A benchmark, not a test: it asserts nothing about times.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(argv: list[str]) -> tuple[float, float]:
    t0 = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        fd = os.open(os.devnull, os.O_RDWR)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.execv(argv[0], argv)
    _, status, usage = os.wait4(pid, 0)
    wall = (time.perf_counter() - t0) * 1000
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=20)
    ap.add_argument("--ctk", action="append", help="an nvidia-ctk to run (repeatable; default: the venv's)")
    args = ap.parse_args(argv)
    ctks = args.ctk or [str(ROOT / ".venv" / "bin" / "nvidia-ctk")]
    with open(ctks[0]) as f:
        python = f.readline()[2:].strip()
    with tempfile.TemporaryDirectory(prefix="ctkbench-") as tmp:
        cases = {"floor (python -I -S -c pass)": [python, "-I", "-S", "-c", "pass"]}
        for i, ctk in enumerate(ctks):
            tag = f" [{i}]" if len(ctks) > 1 else ""
            cases.update({
                f"nvidia-ctk --version{tag}": [ctk, "--version"],
                f"nvidia-ctk hook some-future-hook{tag}": [ctk, "hook", "some-future-hook"],
                f"nvidia-ctk cdi --help{tag}": [ctk, "cdi", "--help"],
                f"nvidia-ctk runtime configure --dry-run (docker){tag}":
                    [ctk, "runtime", "configure", "--dry-run", f"--config={tmp}/daemon.json"],
            })
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in cases}
        for _ in range(args.n):
            for name, cmd in cases.items():
                times[name].append(run_once(cmd))
    for i, ctk in enumerate(ctks):
        print(f"[{i}] {ctk}" if len(ctks) > 1 else ctk)
    print(f"{'command':54s} {'median ms':>10s} {'min ms':>8s} {'cpu ms':>8s}")
    for name, xs in times.items():
        walls = [w for w, _ in xs]
        cpus = [c for _, c in xs]
        print(f"{name:54s} {statistics.median(walls):10.1f} {min(walls):8.1f} {statistics.median(cpus):8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
