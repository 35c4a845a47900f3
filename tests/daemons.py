"""Real daemons for the end-to-end tests: the one place that starts and stops them.

A daemon keeps its state in a directory the test owns (data root, pid file, log) and its unix
sockets in a short directory of its own under /tmp (exec root, runroot: a socket path has at most
107 bytes, and pytest's tmp_path under xdist, ``/tmp/pytest-of-root/pytest-N/popen-gwK/test_name0/``,
leaves too few), never on the host's default paths, so parallel test workers (pytest-xdist) cannot
collide.  Stopping it also kills what it left behind in both (shims, conmon) and unmounts what it
mounted there.  A missing tool is a failure naming ``./build.sh deps``, never a skip.

Used by ``tests/ctk/test_ctk_e2e.py`` (containerd, dockerd, podman) and ``tests/e2e/`` (dockerd, podman).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["Daemon", "Dockerd", "discard", "need", "reap", "short_dir", "short_tmpdir", "wait_for"]

T = TypeVar("T")


def need(*tools: str) -> dict[str, str]:
    """The absolute path of each tool; fails (never skips) when one is missing."""
    found = {t: shutil.which(t) for t in tools}
    missing = [t for t, p in found.items() if p is None]
    assert not missing, f"missing on this machine (./build.sh deps): {missing}"
    return found  # type: ignore[return-value]


def wait_for(pred: Callable[[], T], timeout: float, what: str, daemon: Daemon | None = None) -> T:
    """Poll ``pred`` until it returns a true value (returned); fails after ``timeout`` seconds, or as
    soon as ``daemon`` has exited, with the tail of its log."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if daemon is not None and daemon.proc.poll() is not None:
            raise AssertionError(f"{daemon.name} exited ({daemon.proc.returncode}) while waiting for {what}:\n"
                                 + daemon.log()[-3000:])
        if time.monotonic() >= deadline:
            tail = "" if daemon is None else ":\n" + daemon.log()[-3000:]
            raise AssertionError(f"timed out waiting for {what}{tail}")
        time.sleep(0.2)


def _mentions(cmdline: bytes, tmp: bytes) -> bool:
    """Whether an argument of a NUL-separated command line is ``tmp`` or a path under it
    (``/t/x1`` does not mention ``/t/x``)."""
    return any(arg == tmp or tmp + b"/" in arg for arg in cmdline.split(b"\0"))


def reap(tmp: Path) -> None:
    """Kill every process (but this one) whose command line names ``tmp`` or a path under it, then
    lazily unmount every mount under ``tmp``, deepest first: what a stopped daemon left behind."""
    t = str(tmp).encode()
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if _mentions(cmd, t):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
    mounts = [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]
    for m in sorted((m for m in mounts if m == str(tmp) or m.startswith(str(tmp) + "/")), reverse=True):
        subprocess.run(["umount", "-l", m], capture_output=True)


def short_dir(prefix: str) -> Path:
    """A fresh directory directly under /tmp, for paths with a length limit (unix sockets, podman's
    runroot of at most 50 characters); :func:`discard` it afterwards."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))


def discard(d: Path) -> None:
    """:func:`reap` ``d``, then remove it."""
    reap(d)
    shutil.rmtree(d, ignore_errors=True)


@contextlib.contextmanager
def short_tmpdir(prefix: str) -> Iterator[Path]:
    """:func:`short_dir` for a ``with`` block (discarded at its end)."""
    d = short_dir(prefix)
    try:
        yield d
    finally:
        discard(d)


class Daemon:
    """A daemon process started from ``argv``, its stdout and stderr appended to ``log``; ``tmp`` is the
    directory holding its state (what :meth:`stop` reaps), ``run`` (a :func:`short_dir`, when given)
    its sockets (reaped and removed by :meth:`stop`)."""

    def __init__(self, argv: Sequence[str], tmp: Path, log: Path, env: dict[str, str] | None = None,
                 run: Path | None = None):
        self.name = Path(argv[0]).name
        self.tmp = tmp
        self.run = run
        self.log_path = log
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(list(argv), stdout=out, stderr=subprocess.STDOUT, env=env)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pred: Callable[[], T], timeout: float, what: str) -> T:
        """``wait_for`` that fails early, with the log, when the daemon has exited."""
        return wait_for(pred, timeout, what, self)

    def terminate(self, timeout: float = 60) -> None:
        """SIGTERM and wait (SIGKILL after ``timeout`` seconds); leaves what it started running."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def stop(self, timeout: float = 60) -> None:
        """:meth:`terminate`, then :func:`reap` its directory and :func:`discard` ``run``."""
        self.terminate(timeout)
        reap(self.tmp)
        if self.run is not None:
            discard(self.run)


class Dockerd(Daemon):
    """A private dockerd: data root, pid file and log under ``tmp``, its socket and exec root (its
    containerd's sockets) in a :func:`short_dir`; no iptables, no bridge, vfs storage; ``flags`` are
    added.  Returns once ``docker info`` answers (stopped again if it does not)."""

    def __init__(self, tmp: Path, *flags: str, env: dict[str, str] | None = None, timeout: float = 90):
        tools = need("dockerd", "docker")
        self.docker = tools["docker"]
        run = short_dir("dockerd")
        self.sock = run / "docker.sock"
        self.host = f"unix://{self.sock}"
        argv = [tools["dockerd"], "--data-root", f"{tmp}/data", "--exec-root", f"{run}/exec", "-H", self.host,
                "--pidfile", f"{tmp}/docker.pid", "--iptables=false", "--bridge=none", "--storage-driver=vfs",
                *flags]
        super().__init__(argv, tmp, tmp / "dockerd.log", env, run)
        try:
            self.wait_for(self.info, timeout, "dockerd")
        except BaseException:
            self.stop()
            raise

    def info(self) -> dict:
        """``docker info`` as a dict; empty while the daemon does not answer."""
        r = subprocess.run([self.docker, "-H", self.host, "info", "--format", "{{json .}}"],
                           capture_output=True, text=True, timeout=30)
        return json.loads(r.stdout) if r.returncode == 0 else {}
