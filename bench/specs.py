"""Benchmark inputs: OCI bundles (non-GPU, typical GPU, large realistic GPU) and a hook config.

Used by ``bench/startup.py`` (whole process) and ``bench/test_bench_hotpaths.py``
(in process).  Nothing here measures anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

from ctk.toolkitconfig import DEFAULT as DEFAULT_CONFIG  # the default config (nvidia-ctk config default)

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

_CAPS = ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
         "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
         "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"]

_BASE_MOUNTS = [
    {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
     "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
    {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
     "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
    {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
     "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
    {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
    {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "ro"]},
    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
     "options": ["ro", "nosuid", "noexec", "nodev"]},
]


def _spec(env: list[str], *, mounts=None, annotations=None, extra=None) -> dict:
    spec = {
        "ociVersion": "1.0.2-dev",
        "process": {
            "terminal": False,
            "user": {"uid": 0, "gid": 0},
            "args": ["/bin/sh", "-c", "nvidia-smi"],
            "env": env,
            "cwd": "/",
            "capabilities": {k: list(_CAPS) for k in ("bounding", "effective", "permitted")},
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1048576, "soft": 1048576}],
            "noNewPrivileges": True,
        },
        "root": {"path": "rootfs"},
        "hostname": "3f1c2a9b7d10",
        "mounts": list(_BASE_MOUNTS) + list(mounts or []),
        "linux": {
            "resources": {"devices": [{"allow": False, "access": "rwm"}], "memory": {}, "cpu": {"shares": 0}},
            "cgroupsPath": "system.slice:docker:3f1c2a9b7d10",
            "namespaces": [{"type": t} for t in ("mount", "network", "uts", "pid", "ipc", "cgroup")],
            "maskedPaths": ["/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                            "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                            "/sys/firmware", "/sys/devices/virtual/powercap"],
            "readonlyPaths": ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"],
        },
    }
    if annotations:
        spec["annotations"] = annotations
    if extra:
        spec.update(extra)
    return spec


def nongpu_spec() -> dict:
    """A plain docker container: no NVIDIA variable (the hook's common, no-op case)."""
    return _spec(["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                  "HOSTNAME=3f1c2a9b7d10", "TERM=xterm", "LANG=C.UTF-8"])


def gpu_spec() -> dict:
    """A CUDA image run with ``--gpus all``: what the hook turns into a CLI call."""
    return _spec([
        "PATH=/usr/local/nvidia/bin:/usr/local/cuda/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=3f1c2a9b7d10",
        "NVARCH=x86_64",
        "NVIDIA_REQUIRE_CUDA=cuda>=12.4 brand=tesla,driver>=470,driver<471 brand=tesla,driver>=535,driver<536",
        "NV_CUDA_CUDART_VERSION=12.4.127",
        "CUDA_VERSION=12.4.1",
        "LD_LIBRARY_PATH=/usr/local/nvidia/lib:/usr/local/nvidia/lib64",
        "NVIDIA_VISIBLE_DEVICES=all",
        "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
    ])


def large_spec(target: int = 30 * 1024) -> dict:
    """A ~30 KB GPU spec as Kubernetes writes them: many env vars, mounts, annotations, a seccomp profile."""
    env = gpu_spec()["process"]["env"][:]
    services = ["api", "auth", "billing", "cache", "db", "events", "gateway", "metrics", "queue", "search"]
    for i, svc in enumerate(services * 4):
        n = f"{svc.upper()}_{i}"
        env += [f"{n}_SERVICE_HOST=10.96.{i}.{17 + i}", f"{n}_SERVICE_PORT=8{i:03d}",
                f"{n}_PORT=tcp://10.96.{i}.{17 + i}:8{i:03d}"]
    mounts = [{"destination": f"/var/lib/kubelet/pods/9f7c/volumes/kubernetes.io~secret/vol-{i}",
               "type": "bind", "source": f"/var/lib/kubelet/pods/9f7c/volumes/kubernetes.io~secret/vol-{i}",
               "options": ["rbind", "rprivate", "ro"]} for i in range(24)]
    annotations = {f"io.kubernetes.cri.annotation-{i}": "x" * 40 for i in range(20)}
    annotations["io.kubernetes.cri.container-type"] = "container"
    syscalls = ["accept", "accept4", "access", "bind", "brk", "capget", "capset", "chdir", "chmod", "chown",
                "clock_gettime", "clone", "close", "connect", "dup", "dup2", "dup3", "epoll_create", "epoll_ctl",
                "epoll_wait", "execve", "exit", "exit_group", "fchmod", "fchown", "fcntl", "fstat", "futex",
                "getcwd", "getdents64", "getpid", "getuid", "ioctl", "kill", "listen", "lseek", "mmap", "mprotect",
                "munmap", "openat", "pipe2", "poll", "read", "readlink", "recvfrom", "rt_sigaction", "sendto",
                "set_robust_list", "setsockopt", "socket", "stat", "statx", "uname", "wait4", "write"]
    seccomp = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
               "syscalls": [{"names": syscalls, "action": "SCMP_ACT_ALLOW"}]}
    spec = _spec(env, mounts=mounts, annotations=annotations)
    spec["linux"]["seccomp"] = seccomp
    # Pad with more syscall rules (realistic: docker's default profile is ~1,000 lines) up to target.
    k = 0
    while len(json.dumps(spec, indent=2)) < target:
        seccomp["syscalls"].append({"names": [f"{syscalls[k % len(syscalls)]}"], "action": "SCMP_ACT_ALLOW",
                                    "args": [{"index": 0, "value": 2080505856 + k, "op": "SCMP_CMP_MASKED_EQ"}]})
        k += 1
    return spec


def sized_spec(target: int) -> dict:
    """``large_spec`` grown to about ``target`` bytes (indented) with more seccomp rules: 1 MB, 18 MB."""
    spec = large_spec()
    rules = spec["linux"]["seccomp"]["syscalls"]
    rule = {"names": ["read"], "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 2080505856, "op": "SCMP_CMP_MASKED_EQ"}]}
    def more(n: int) -> None:
        start = len(rules)
        rules.extend({**rule, "args": [{**rule["args"][0], "value": 2080505856 + start + k}]} for k in range(n))

    before = len(json.dumps(spec, indent=2))
    more(100)
    per_rule = (len(json.dumps(spec, indent=2)) - before) / 100
    more(max(0, int((target - before) / per_rule) - 100))
    return spec


def deep_spec(depth: int = 10000) -> dict:
    """A GPU spec nested ``depth`` levels deep (Go's limit is 10,000) in an annotation-like field."""
    spec = gpu_spec()
    nested: list = []
    for _ in range(depth - 3):  # the spec object and "x-deep" hold it: two levels, plus the innermost list
        nested = [nested]
    spec["x-deep"] = {"v": nested}
    return spec


SPECS = {"nongpu": nongpu_spec, "gpu": gpu_spec, "large": large_spec,
         "1mb": lambda: sized_spec(1 << 20), "18mb": lambda: sized_spec(18 << 20), "deep": deep_spec}


def render(name: str) -> bytes:
    """The ``config.json`` bytes of ``SPECS[name]``: indented as runtimes write them, except the deep
    spec (indenting 10,000 levels would make it 200 MB)."""
    spec = SPECS[name]()
    if name == "deep":
        import sys
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 3 * 10000))  # json.dumps recurses once per level
        try:
            return json.dumps(spec, separators=(",", ":")).encode()
        finally:
            sys.setrecursionlimit(limit)
    return json.dumps(spec, indent=2).encode()


def build_recorder(directory: Path) -> Path:
    """A stand-in ``nvidia-container-cli`` that exits 0 at once (static C when gcc exists, else /bin/true)."""
    target = directory / "nvidia-container-cli"
    src = directory / "recorder.c"
    src.write_text("int main(void) { return 0; }\n")
    try:
        subprocess.run(["gcc", "-O2", "-static", "-o", str(target), str(src)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        target.symlink_to("/bin/true")
    return target


_RSS_HELPER = r"""
#include <fcntl.h>
#include <stdio.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
/* peak-rss STDIN PROGRAM ARGS...: run PROGRAM (stdout/stderr to /dev/null) from this
 * tiny process, so that the child's ru_maxrss is its own, not inherited from a large
 * parent's address space at fork/vfork.  Prints "KIB STATUS". */
int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    pid_t pid = fork();
    if (pid == 0) {
        int in = open(argv[1], O_RDONLY), out = open("/dev/null", O_WRONLY);
        dup2(in, 0); dup2(out, 1); dup2(out, 2);
        execv(argv[2], argv + 2);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (pid < 0 || wait4(pid, &status, 0, &ru) < 0)
        return 3;
    printf("%ld %d\n", ru.ru_maxrss, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
    return 0;
}
"""


def build_rss_helper(directory: Path) -> Path | None:
    """A static C program measuring a child's own peak RSS (None without gcc)."""
    src = directory / "peak_rss.c"
    target = directory / "peak-rss"
    src.write_text(_RSS_HELPER)
    try:
        subprocess.run(["gcc", "-O2", "-static", "-o", str(target), str(src)], check=True,
                       capture_output=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return target


class Bench:
    """A temporary tree: one bundle per spec, a config naming the recorder, state files."""

    def __init__(self, config: str = DEFAULT_CONFIG, cases=tuple(SPECS)):
        self.dir = Path(tempfile.mkdtemp(prefix="hookbench-"))
        self.recorder = build_recorder(self.dir)
        self.rss_helper = build_rss_helper(self.dir)
        text = config.replace('#path = "/usr/bin/nvidia-container-cli"', f'path = "{self.recorder}"')
        self.config = self.dir / "config.toml"
        self.config.write_text(text)
        self.bundles: dict[str, Path] = {}
        self.states: dict[str, Path] = {}
        self.sizes: dict[str, int] = {}
        for name in cases:
            bundle = self.dir / name
            (bundle / "rootfs").mkdir(parents=True)
            data = render(name)
            (bundle / "config.json").write_bytes(data)
            self.sizes[name] = len(data)
            state = self.dir / f"{name}.state.json"
            state.write_text(json.dumps({"ociVersion": "1.0.2", "id": name, "status": "creating",
                                         "pid": os.getpid(), "bundle": str(bundle)}))
            self.bundles[name] = bundle
            self.states[name] = state

    def cleanup(self) -> None:
        import shutil
        shutil.rmtree(self.dir, ignore_errors=True)
