#!/usr/bin/env python3
"""How fast ``nvidia-ctk runtime configure`` reads and edits a large containerd config.toml.

    .venv/bin/python bench/ctk_toml.py [--sizes 1,10] [-n 3] [--modes drop-in,in-place]
                                       [--ctk .venv/bin/nvidia-ctk]

For each size (MB) it writes a containerd config (version 2, N runtimes with comments, options
tables and arrays, go-toml v1 style: what a node with many handlers carries) and runs, whole
process, ``runtime configure --runtime=containerd --dry-run`` with a drop-in (the default: the
top-level file gets an ``imports`` line) and with ``--drop-in-config=""`` (the file edited in
place).  Prints the median wall time and the throughput (input MB/s).  Also times in process the
parse alone (``hook.tomlcompat.loads``; tomlkit with ``--tomlkit``: about a minute for 10 MB) and
the in-place edit alone (``TomlFile.render`` adding the handler: the sections it touches,
ctk/tomlsections.py).  A benchmark, not a test: it asserts nothing about times; it exits 1 only if
a run fails.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

HEAD = ('# containerd config with many runtimes\nversion = 2\nroot = "/var/lib/containerd"\n'
        'state = "/run/containerd"\noom_score = 0\n\n[plugins."io.containerd.grpc.v1.cri"]\n'
        '  sandbox_image = "registry.k8s.io/pause:3.9"\n'
        '[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "runc"\n'
        '  snapshotter = "overlayfs"\n')
RUNTIME = '''
  [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rt{i}]
    runtime_type = "io.containerd.runc.v2"  # handler {i}
    privileged_without_host_devices = false
    pod_annotations = ["io.kubernetes.cri.*", 'example.com/rt{i}']
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.rt{i}.options]
      BinaryName = "/usr/local/bin/rt{i}"
      SystemdCgroup = true
'''


def containerd_config(size: int) -> str:
    """A containerd config of about ``size`` bytes."""
    parts = [HEAD]
    total, i = len(HEAD), 0
    while total < size:
        block = RUNTIME.format(i=i)
        parts.append(block)
        total += len(block)
        i += 1
    return "".join(parts)


def run_ctk(ctk: str, config: Path, mode: str) -> float:
    args = [ctk, "runtime", "configure", "--runtime=containerd", f"--config={config}", "--dry-run"]
    if mode == "in-place":
        args.append("--drop-in-config=")
    t0 = time.perf_counter()
    res = subprocess.run(args, capture_output=True)
    took = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"{' '.join(args)}: exit {res.returncode}: {res.stderr.decode()[-500:]}")
    return took


def in_process(text: str, with_tomlkit: bool) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    import copy

    import tomlkit

    from ctk.tomledit import TomlFile
    from hook import tomlcompat
    out = {}
    fns = [("tomlcompat.loads", tomlcompat.loads)]
    if with_tomlkit:
        fns.append(("tomlkit.parse", tomlkit.parse))
    for name, fn in fns:
        t0 = time.perf_counter()
        fn(text)
        out[name] = time.perf_counter() - t0
    top = TomlFile("config.toml", text.encode())
    new = copy.deepcopy(top.tree)
    ctr = new["plugins"]["io.containerd.grpc.v1.cri"]["containerd"]
    ctr["runtimes"]["nvidia"] = {"runtime_type": "io.containerd.runc.v2",
                                 "options": {"BinaryName": "/usr/bin/nvidia-container-runtime"}}
    ctr["default_runtime_name"] = "nvidia"
    t0 = time.perf_counter()
    top.render(new)
    out["in-place edit"] = time.perf_counter() - t0
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="1,10", help="comma-separated sizes in MB")
    ap.add_argument("-n", type=int, default=3, help="runs per case")
    ap.add_argument("--modes", default="drop-in,in-place")
    ap.add_argument("--ctk", default=str(ROOT / ".venv" / "bin" / "nvidia-ctk"))
    ap.add_argument("--tomlkit", action="store_true", help="also time tomlkit.parse of the whole file")
    opts = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ctk-toml-") as tmp:
        for mb in (float(s) for s in opts.sizes.split(",")):
            text = containerd_config(int(mb * 1_000_000))
            config = Path(tmp) / f"config-{mb:g}MB.toml"
            config.write_text(text)
            size = len(text.encode()) / 1e6
            for name, took in in_process(text, opts.tomlkit).items():
                print(f"{size:6.1f} MB  {name:<22} {took:7.2f} s  {size / took:6.2f} MB/s")
            for mode in opts.modes.split(","):
                times = [run_ctk(opts.ctk, config, mode) for _ in range(opts.n)]
                med = statistics.median(times)
                print(f"{size:6.1f} MB  configure {mode:<12} {med:7.2f} s  {size / med:6.2f} MB/s"
                      f"  (min {min(times):.2f}, n={opts.n})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
