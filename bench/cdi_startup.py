#!/usr/bin/env python3
"""Start-up of the CDI hooks and the cost of ``nvidia-ctk cdi generate``, against the CPython floor.

    sudo .venv/bin/python bench/cdi_startup.py [-n 10] [--driver-root DIR]

Runs, round after round in alternation: the floor (``python3 -I -S -c pass``), the frozen binary
named ``nvidia-cdi-hook`` and the venv's ``nvidia-cdi-hook`` (``create-symlinks`` with one link,
and ``update-application-profile``, on a tiny bundle), and ``nvidia-ctk cdi generate --mode nvml``
(frozen-free: the venv entry point) on the fake driver (built with spec_fixtures/fake-driver/mkroot.sh
when ``--driver-root`` is not given; needs root).  Prints medians and the ratio to the floor.
A benchmark, not a test: it asserts nothing about times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from specs import ROOT  # noqa: E402
from startup import measure, real_python  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("-n", type=int, default=10)
    ap.add_argument("--driver-root")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cdibench-") as tmp:
        t = Path(tmp)
        root = args.driver_root
        if not root:
            root = str(t / "driver-root")
            subprocess.run(["sh", str(ROOT / "spec_fixtures/fake-driver/mkroot.sh"), root], check=True,
                           capture_output=True)
        bundle = t / "bundle"
        (bundle / "rootfs" / "usr/lib").mkdir(parents=True)
        (bundle / "rootfs" / "dev").mkdir()
        (bundle / "config.json").write_text(json.dumps({"ociVersion": "1.0.2", "root": {"path": "rootfs"}}))
        state = t / "state.json"
        state.write_text(json.dumps({"ociVersion": "1.0.2", "id": "b", "pid": 1, "bundle": str(bundle)}))
        frozen = t / "nvidia-cdi-hook"
        os.symlink(ROOT / "dist" / "nvidia-container-runtime-hook", frozen)
        venv_hook = str(ROOT / ".venv/bin/nvidia-cdi-hook")
        floor = [real_python(), "-I", "-S", "-c", "pass"]
        link = ["create-symlinks", "--link", "libcuda.so.1::/usr/lib/libcuda.so"]
        commands = {
            "floor": floor,
            "frozen nvidia-cdi-hook create-symlinks": [str(frozen), *link],
            "frozen nvidia-cdi-hook update-application-profile": [str(frozen), "update-application-profile"],
            "venv nvidia-cdi-hook create-symlinks": [venv_hook, *link],
            "venv nvidia-ctk cdi generate --mode nvml": [str(ROOT / ".venv/bin/nvidia-ctk"), "--quiet", "cdi",
                                                         "generate", "--driver-root", root, "--mode", "nvml",
                                                         "--nvidia-cdi-hook-path", "/usr/bin/nvidia-cdi-hook"],
        }
        env = {"PATH": "/usr/bin:/bin"}
        res = measure(commands, str(state), env, args.n)
    print(f"{'command':55} {'median ms':>10} {'x floor':>8}")
    for name, r in res.items():
        label = "floor (python -I -S -c pass)" if name == "floor" else name
        print(f"{label:55} {r['median_ms']:10.1f} {r['ratio']:8.2f}" + ("  FAILED" if r["failures"] else ""))
    return 1 if any(r["failures"] for r in res.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
