#!/usr/bin/env python3
"""Pass-through calls of an installed toolkit's runtime: replayed from its exec record, or decided by the interpreter.

    .venv/bin/python bench/exec_record.py [-n 30] [--binary dist/nvidia-container-runtime-hook]

Lays down a toolkit as ``nvidia-ctk install`` does (``ctk.toolkit.lay_down``: the frozen binary, a
link to it for each of its other names, the config beside it naming the real ``runc``) in a
temporary directory and runs, in alternation: the floor (``python -I -S -c pass``), ``runc``
directly, the toolkit's runtime (its
exec record written by the first call, so the launcher replays it: shim/execrecord.py), and the same
runtime with ``NVIDIA_CTK_CONFIG_FILE_PATH`` naming the same config (the interpreter decides: what
every call cost before the record).  Calls: ``state``, ``delete``, ``kill``, ``start`` of a container
that does not exist, with a private ``--root``.  Prints medians of wall and CPU time (user + system
of the process and what it execs) and what each adds to the direct call, also in floors.

A benchmark, not a test: it asserts nothing about times.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specs import DEFAULT_CONFIG  # noqa: E402
from startup import ROOT, real_python, spawn  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=30)
    parser.add_argument("--binary", type=Path, default=ROOT / "dist" / "nvidia-container-runtime-hook")
    args = parser.parse_args(argv)
    runc = shutil.which("runc")
    if runc is None or not args.binary.is_file():
        print("exec_record: needs runc (./build.sh deps) and the frozen binary (./build.sh)", file=sys.stderr)
        return 2
    sys.path.insert(0, str(ROOT))
    from ctk.toolkit import CONFIG, lay_down
    from shim.execrecord import RECORD

    tmp = Path(tempfile.mkdtemp(prefix="execrecord-"))
    try:
        toolkit = tmp / "toolkit"
        toolkit.mkdir()
        config_text = DEFAULT_CONFIG.replace('runtimes = ["docker-runc", "runc", "crun"]', f'runtimes = ["{runc}"]')
        lay_down(str(toolkit), str(args.binary.resolve()), config_text.encode())
        config = toolkit / CONFIG
        (tmp / "runc-root").mkdir()
        shim = str(toolkit / "nvidia-container-runtime")
        env = {"PATH": "/usr/bin:/bin"}
        interpreter_env = {**env, "NVIDIA_CTK_CONFIG_FILE_PATH": str(config)}
        stdin = "/dev/null"
        spawn([shim, "state", "ctr"], stdin, env)
        if not (toolkit / RECORD).is_file():
            print("exec_record: the first call wrote no record", file=sys.stderr)
            return 1
        floor = [real_python(), "-I", "-S", "-c", "pass"]
        print(f"{args.rounds} rounds, alternating; ms, medians (floor = {floor[0]} -I -S -c pass)")
        print(f"  {'call':8} {'floor':>7} {'runc':>7} {'record':>7} {'added':>7} {'/floor':>7} "
              f"{'interp.':>7} {'added':>7} {'/floor':>7}   (wall; CPU on the next line)")
        for call in (["state", "ctr"], ["delete", "ctr"], ["kill", "ctr", "KILL"], ["start", "ctr"]):
            commands = {"floor": (floor, env), "runc": ([runc, "--root", str(tmp / "runc-root"), *call], env),
                        "record": ([shim, "--root", str(tmp / "runc-root"), *call], env),
                        "interp": ([shim, "--root", str(tmp / "runc-root"), *call], interpreter_env)}
            wall: dict[str, list[float]] = {k: [] for k in commands}
            cpu: dict[str, list[float]] = {k: [] for k in commands}
            for _ in range(args.rounds):
                for key, (cmd, e) in commands.items():
                    w, c, _ = spawn(cmd, stdin, e)
                    wall[key].append(w * 1e3)
                    cpu[key].append(c * 1e3)
            for label, data in (("wall", wall), ("cpu", cpu)):
                m = {k: statistics.median(v) for k, v in data.items()}
                rec, interp = m["record"] - m["runc"], m["interp"] - m["runc"]
                print(f"  {call[0] if label == 'wall' else '':8} {m['floor']:7.2f} {m['runc']:7.2f} {m['record']:7.2f} "
                      f"{rec:+7.2f} {rec / m['floor']:7.2f} {m['interp']:7.2f} {interp:+7.2f} "
                      f"{interp / m['floor']:7.2f}   {label}")
        return 0
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
