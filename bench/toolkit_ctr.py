#!/usr/bin/env python3
"""A whole ``ctr run`` through the installed toolkit's ``nvidia-container-runtime`` against plain runc.

    sudo .venv/bin/python bench/toolkit_ctr.py [-n 10] [--toolkit-source BINARY]

Starts a private containerd 1.6 (tmp root, state and socket), ``nvidia-ctk install``s the
toolkit into a tmp dir (``--toolkit-source``: default ``dist/nvidia-container-runtime-hook``) with the fake driver root and the
fake libnvidia-container, and runs, in alternation, ``ctr run --rm`` of ``/bin/busybox true``:
non-GPU and GPU (``NVIDIA_VISIBLE_DEVICES=1``) containers through plain runc, through
``<toolkit>/nvidia-container-runtime`` and through an upstream-style wrapper script in front of it
(``sh`` + ``grep`` of the modules file, as upstream's toolkit installs), plus the CPython floor
(``python -I -S -c pass``).
Prints medians, min and the difference to plain runc.  The toolkit's no-driver check is pointed
at a modules file listing ``nvidia`` (this machine has no NVIDIA module).

A benchmark, not a test: it asserts nothing about times.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _p in (ROOT / "bench", ROOT / "tests", ROOT / "tests" / "e2e"):
    sys.path.insert(0, str(_p))
from daemons import CONTAINERD_MAIN, Containerd  # noqa: E402
from nvc_e2e_lib import make_rootfs  # noqa: E402
from oci_bundle import rootfs_tar  # noqa: E402
from startup import real_python  # noqa: E402
from toolkit_source import driver_root, toolkit_source  # noqa: E402


def run(argv: list[str], **kw) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)
    if r.returncode != 0:
        raise SystemExit(f"toolkit_ctr: {' '.join(argv[:4])} ...: {r.stderr.strip()}")
    return r


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--rounds", type=int, default=10)
    parser.add_argument("--toolkit-source", type=Path)
    args = parser.parse_args(argv)
    if os.geteuid() != 0 or not all(shutil.which(t) for t in ("containerd", "ctr", "runc")):
        print("toolkit_ctr: needs root, containerd, ctr and runc (./build.sh deps)", file=sys.stderr)
        return 2
    t = Path(tempfile.mkdtemp(prefix="tkbench-"))
    daemon = None
    try:
        main_cfg = t / "config.toml"
        main_cfg.write_text(CONTAINERD_MAIN.format(t=t))
        source = args.toolkit_source or toolkit_source()
        env = dict(os.environ, NVIDIA_CTK_STATE_DIR=str(t / "ctk-state"))
        ctk = str(ROOT / ".venv" / "bin" / "nvidia-ctk")
        run([ctk, "install", "--runtime=containerd", f"--config={main_cfg}", f"--drop-in-config={t}/conf.d/99.toml",
             "--restart-mode=none", "--config-source=file", f"--toolkit-install-dir={t}/nv",
             f"--toolkit-source={source}", f"--driver-root={driver_root(t)}"], env=env)
        (t / "modules").write_text("nvidia 56623104 2 nvidia_uvm, Live 0x0\n")
        run([ctk, "config", "--in-place", f"--config-file={t}/nv/toolkit/.config/nvidia-container-runtime/config.toml",
             "--set", f"nvidia-container-runtime.driver-modules-file={t}/modules"], env=env)
        daemon = Containerd(t, main_cfg, ns="bench")
        ctr = daemon.ctr
        daemon.import_image(rootfs_tar(make_rootfs(t / "rootfs")), "local/probe:1")
        tk = f"{t}/nv/toolkit"
        # upstream's layout for comparison: a shell wrapper that greps the modules file, then execs
        wrapper = t / "wrapper" / "nvidia-container-runtime"
        wrapper.parent.mkdir()
        wrapper.write_text(f'#! /bin/sh\ngrep -e "^nvidia " {t}/modules >/dev/null 2>&1\n'
                           f'if [ "$?" != "0" ]; then exec runc "$@"; fi\n'
                           f'NVIDIA_CTK_CONFIG_FILE_PATH={tk}/.config/nvidia-container-runtime/config.toml \\\n'
                           f'PATH={tk}:$PATH \\\n\texec {tk}/nvidia-container-runtime "$@"\n')
        wrapper.chmod(0o755)
        runtimes = {"runc": shutil.which("runc"), "toolkit": f"{tk}/nvidia-container-runtime",
                    "sh-wrapper": str(wrapper)}
        cases: dict[str, list[str]] = {"floor": [real_python(), "-I", "-S", "-c", "pass"]}
        for kind, env in (("non-GPU", []), ("GPU", ["NVIDIA_VISIBLE_DEVICES=1"])):
            for name, binary in runtimes.items():
                cases[f"{kind} {name}"] = ctr + daemon.run_args(binary, "local/probe:1", "c", env,
                                                                "/bin/busybox", "true")
        samples: dict[str, list[float]] = {k: [] for k in cases}
        for r in range(args.rounds + 1):
            for key, cmd in cases.items():
                t0 = time.perf_counter()
                run(cmd)
                if r >= 1:
                    samples[key].append((time.perf_counter() - t0) * 1e3)
        med = {k: statistics.median(v) for k, v in samples.items()}
        print(f"{args.rounds} rounds, alternating; ms; toolkit source {source}")
        print(f"  {'case':22} {'median':>8} {'min':>8} {'vs runc':>8} {'/floor':>7}")
        for key, v in samples.items():
            kind = key.split()[0]
            base = med.get(f"{kind} runc")
            added = med[key] - base if base is not None and key != f"{kind} runc" else None
            print(f"  {key:22} {med[key]:8.1f} {min(v):8.1f} "
                  + (f"{added:+8.1f} {added / med['floor']:7.2f}" if added is not None else f"{'':8} {'':7}"))
        return 0
    finally:
        if daemon is not None:
            daemon.stop()
        shutil.rmtree(t, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
