"""Real daemons for the end-to-end tests: the one place that starts and stops them.

A daemon keeps its state in a directory the test owns (data root, pid file, log) and its unix
sockets in a short directory of its own under /tmp (exec root, runroot: a socket path has at most
107 bytes, and pytest's tmp_path under xdist, ``/tmp/pytest-of-root/pytest-N/popen-gwK/test_name0/``,
leaves too few), never on the host's default paths, so parallel test workers (pytest-xdist) cannot
collide.  Stopping it also kills what it left behind in both (shims, conmon) and unmounts what it
mounted there.  A missing tool is a failure naming ``./build.sh deps``, never a skip.

Used by the end-to-end tests of ``tests/ctk/`` (containerd, dockerd, podman), ``tests/e2e/`` (dockerd,
podman) and ``tests/shim/`` (containerd).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

__all__ = ["CONTAINERD_MAIN", "Containerd", "Daemon", "Dockerd", "SighupCounter", "discard", "need", "reap", "short_dir", "short_tmpdir", "wait_for"]

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
    directory holding its state (what :meth:`stop` reaps), ``run`` (a :func:`short_dir`, when given; ``rundir``)
    its sockets (reaped and removed by :meth:`stop`)."""

    def __init__(self, argv: Sequence[str], tmp: Path, log: Path, env: dict[str, str] | None = None,
                 run: Path | None = None):
        self.name = Path(argv[0]).name
        self.tmp = tmp
        self.rundir = run
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
        if self.rundir is not None:
            discard(self.rundir)


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


#: The main configuration file of a private containerd 1.6 (``.format(t=tmp)``): root, state and
#: sockets under ``tmp`` (its shims' sockets are containerd's own, ``/run/containerd/s/<hash of
#: the address>``, removed when they exit), the CRI plugin on runc with the native snapshotter.
CONTAINERD_MAIN = """\
# main file of the test daemon
version = 2
root = "{t}/root"
state = "{t}/state"

[grpc]
  address = "{t}/containerd.sock"

[ttrpc]
  address = "{t}/containerd.sock.ttrpc"

[debug]
  address = "{t}/debug.sock"

[plugins."io.containerd.grpc.v1.cri"]
  stream_server_port = "0"

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "native"
    default_runtime_name = "runc"

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
"""


class Containerd(Daemon):
    """A private containerd started with the main file ``config`` (:data:`CONTAINERD_MAIN` formatted
    with ``t=tmp``: its state, sockets and log under ``tmp``), its argv behind ``wrap`` when given
    (e.g. an ``unshare`` command line ending in ``exec``); returns once ``tmp/containerd.sock`` exists
    (stopped again if it does not).  ``ns`` is the containerd namespace for ``ctr -n``: a fresh one unless
    given (a container's cgroup is ``/<namespace>/<name>``, and parallel tests must not share one);
    ``ctr`` is the ``ctr`` command line for it.  Containers are run (:meth:`run`) with their runtime's
    root and the fifos under ``tmp``."""

    def __init__(self, tmp: Path, config: Path, env: dict[str, str] | None = None,
                 wrap: Callable[[list[str]], list[str]] | None = None, timeout: float = 30,
                 ns: str | None = None):
        argv = [need("containerd")["containerd"], "--config", str(config)]
        super().__init__(argv if wrap is None else wrap(argv), tmp, tmp / "containerd.log", env)
        self.sock = tmp / "containerd.sock"
        self.ns = ns or f"t-{uuid.uuid4().hex[:10]}"
        self.ctr = [need("ctr")["ctr"], "-a", str(self.sock), "-n", self.ns]
        try:
            self.wait_for(self.sock.exists, timeout, "the containerd socket")
        except BaseException:
            self.stop()
            raise

    def check(self, *args: str) -> str:
        """``ctr ARGS``; its stdout (it must succeed)."""
        r = subprocess.run(self.ctr + list(args), capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def run_args(self, runtime: str, image: str, name: str, env: Sequence[str], *cmd: str,
                 detach: bool = False, mounts: Sequence[tuple[str, str]] = ()) -> list[str]:
        """The ``ctr`` arguments (after :attr:`ctr`) that run ``cmd`` in the container ``name`` of ``image``
        (imported for the native snapshotter) through the runc-compatible binary ``runtime``, with the
        variables ``env`` (``K=V``) and the read-write bind ``mounts`` (host, container): removed when it
        exits, or left running when ``detach``."""
        return ["run", "-d" if detach else "--rm", "--snapshotter", "native", "--runc-binary", runtime,
                "--runc-root", f"{self.tmp}/runc-root", "--fifo-dir", f"{self.tmp}/fifo",
                *(f"--env={e}" for e in env),
                *(f"--mount=type=bind,src={host},dst={inside},options=rbind:rw" for host, inside in mounts),
                image, name, *cmd]

    def run(self, runtime: str, image: str, name: str, env: Sequence[str], *cmd: str, detach: bool = False) -> str:
        """``ctr`` :meth:`run_args`; the container's stdout (it must succeed)."""
        return self.check(*self.run_args(runtime, image, name, env, *cmd, detach=detach))

    def run_script(self, runtime: str, image: str, name: str, env: Sequence[str], script: str) -> str:
        """:meth:`run` of ``/bin/sh -c script``; its stdout as written to a file of a bind mount, not as
        ``ctr`` relays it: ``ctr run --rm`` (containerd 1.6) can drop the end of a
        short-lived container's output when it deletes the task on a loaded machine."""
        out = self.tmp / f"out-{name}"
        out.mkdir(exist_ok=True)
        self.check(*self.run_args(runtime, image, name, env, "/bin/sh", "-c", f"( {script} ) > /run-out/out",
                                  mounts=[(str(out), "/run-out")]))
        return (out / "out").read_text()

    def spec_of(self, runtime: str, image: str, name: str, env: Sequence[str]) -> dict:
        """The spec ``runtime`` handed to runc/crun for a container of ``image`` (kept running to read it,
        then killed and deleted); the state directory is :data:`CONTAINERD_MAIN`'s."""
        self.run(runtime, image, name, env, "/bin/busybox", "sleep", "60", detach=True)
        try:
            return json.loads((self.tmp / "state/io.containerd.runtime.v2.task" / self.ns / name / "config.json")
                              .read_text())
        finally:
            subprocess.run(self.ctr + ["task", "kill", "-s", "KILL", name], capture_output=True, timeout=30)
            wait_for(lambda: subprocess.run(self.ctr + ["task", "delete", name], capture_output=True,
                                            timeout=30).returncode == 0, 30, "the task to stop")
            self.check("container", "delete", name)

    def import_image(self, layer: bytes, name: str) -> None:
        """The one-layer image ``name`` of the tar ``layer`` (:func:`oci_bundle.oci_archive`), imported for
        the native snapshotter."""
        from oci_bundle import oci_archive

        archive = self.tmp / "image.tar"
        archive.write_bytes(oci_archive(layer, name))
        self.check("images", "import", "--snapshotter", "native", str(archive))


class SighupCounter:
    """A stand-in for a runtime daemon that ``nvidia-ctk`` signals: a Python script started as
    ``<python> <script> ARGV...`` (in ``cwd``), counting the SIGHUPs it handles; its pid in
    ``pidfile`` (``tmp/daemon.pid``)."""

    def __init__(self, tmp: Path, *argv: str, cwd: Path | None = None):
        self.hups = tmp / "daemon.hups"
        self.synced = tmp / "daemon.synced"
        self._syncs = 0
        script = tmp / "daemon.py"
        script.write_text("import signal,time\n"
                          "n={'HUP': 0, 'USR1': 0}\n"
                          "def h(signum, frame):\n"
                          "    k = signal.Signals(signum).name[3:]\n"
                          "    n[k] += 1\n"
                          f"    path = {str(self.hups)!r} if k == 'HUP' else {str(self.synced)!r}\n"
                          "    with open(path + '.tmp', 'w') as f: f.write(str(n[k]))\n"
                          "    __import__('os').replace(path + '.tmp', path)\n"
                          "signal.signal(signal.SIGHUP, h)\nsignal.signal(signal.SIGUSR1, h)\n"
                          "print('ready', flush=True)\n"
                          "while True: time.sleep(1)\n")
        self.proc = subprocess.Popen([sys.executable, str(script), *argv], stdout=subprocess.PIPE, text=True,
                                     cwd=cwd)
        assert self.proc.stdout.readline() == "ready\n"
        self.pidfile = tmp / "daemon.pid"
        self.pidfile.write_text(f"{self.proc.pid}\n")

    def count(self, timeout: float = 60) -> int:
        """The SIGHUPs handled, every one sent before this call included: it sends a SIGUSR1 and waits
        until that is handled, which is after any SIGHUP sent earlier (the kernel delivers, and Python
        runs the handlers of, pending signals lowest number first)."""
        self._syncs += 1
        self.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: self.synced.exists() and self.synced.read_text() == str(self._syncs), timeout,
                 "the stand-in daemon to handle its signals")
        return int(self.hups.read_text()) if self.hups.exists() else 0

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()
