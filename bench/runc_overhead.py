#!/usr/bin/env python3
"""What the hook adds to ``runc run`` of a (non-GPU) busybox container.

    sudo .venv/bin/python bench/runc_overhead.py [-n 20] [--hook PROGRAM]... [--gpu]

Runs, in alternation, ``runc run`` of the same busybox ``true`` container
without a hook and with each hook program as its prestart hook (default: the
frozen binary in dist/ and the venv entry point), and prints medians, min, max
and the median difference against the run without a hook.  With ``--gpu`` the
container asks for GPUs (NVIDIA_VISIBLE_DEVICES=all) and the hook's config
names a recorder that exits at once as nvidia-container-cli.

Needs root, runc and busybox-static.  The bundles are tests/oci_bundle.py's.
A benchmark: it asserts nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
import oci_bundle  # noqa: E402
from specs import DEFAULT_CONFIG  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=20)
    parser.add_argument("--hook", action="append", default=None, metavar="[NAME=]PROGRAM")
    parser.add_argument("--gpu", action="store_true", help="a GPU container (recorder as the CLI)")
    args = parser.parse_args(argv)
    hooks = args.hook or [f"frozen={ROOT / 'dist' / 'nvidia-container-runtime-hook'}",
                          f"venv={ROOT / '.venv' / 'bin' / 'nvidia-container-runtime-hook'}"]
    if os.geteuid() != 0:
        print("runc_overhead: needs root", file=sys.stderr)
        return 2

    tmp = Path(tempfile.mkdtemp(prefix="runcbench-"))
    recorder = tmp / "nvidia-container-cli"
    recorder.write_text("#!/bin/sh\nexit 0\n")
    recorder.chmod(0o755)
    config = tmp / "config.toml"
    config.write_text(DEFAULT_CONFIG
                      .replace('#path = "/usr/bin/nvidia-container-cli"', f'path = "{recorder}"'))
    env = ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=utility"] if args.gpu else []
    bundles = {"none": oci_bundle.runc_bundle(tmp / "none", ["true"], env)}
    for item in hooks:
        name, sep, prog = item.partition("=")
        if not sep:
            name, prog = Path(item).name, item
        prog = os.path.abspath(prog)  # runc wants an absolute hook path
        hook = [prog, "nvidia-container-runtime-hook", "-config", str(config), "prestart"]
        bundles[name] = oci_bundle.runc_bundle(tmp / name, ["true"], env, hook=hook, hook_env=oci_bundle.HOOK_ENV)
    samples: dict[str, list[float]] = {k: [] for k in bundles}
    failed = 0
    for r in range(args.rounds + 2):
        for name, bundle in bundles.items():
            t0 = time.perf_counter()
            res = oci_bundle.runc_run(bundle, f"hookbench-{os.getpid()}-{name}")
            elapsed = time.perf_counter() - t0
            if res.returncode != 0:
                failed += 1
                print(f"{name}: runc run failed: {res.stderr.strip()[-300:]}", file=sys.stderr)
            if r >= 2:
                samples[name].append(elapsed * 1e3)
    base = statistics.median(samples["none"])
    kind = "GPU" if args.gpu else "non-GPU"
    print(f"runc run of a {kind} busybox container; {args.rounds} rounds, alternating; ms")
    print(f"  {'hook':8} {'median':>8} {'min':>8} {'max':>8} {'added':>8}")
    for name, xs in samples.items():
        med = statistics.median(xs)
        print(f"  {name:8} {med:8.2f} {min(xs):8.2f} {max(xs):8.2f} {med - base:+8.2f}")
    import shutil
    shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
