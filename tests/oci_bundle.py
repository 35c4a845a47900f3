"""Busybox root file systems and OCI bundles for runc: the one place the tests and benchmarks build them.

Used by the end-to-end tests (``tests/e2e/nvc_e2e_lib.py``, ``tests/freeze/test_freeze_runc_e2e.py``,
``tests/ctk/``, ``tests/shim/``: also image layers and OCI image archives for ``ctr images import``) and the runc overhead benchmark (``bench/runc_overhead.py``).
``tests/conftest.py`` puts this directory on ``sys.path``; the benchmark does so itself.

Needs ``busybox-static`` (and, for ``ldconfig=True``, Debian's static ``/sbin/ldconfig``); bundles
need ``runc`` (``runc spec``) and running them needs root.  A missing tool is an error with the
package to install (``./build.sh deps``), never a skip.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import subprocess
import tarfile
from collections.abc import Sequence
from pathlib import Path

BUSYBOX_CANDIDATES = (Path("/bin/busybox"), Path("/usr/bin/busybox"))
LDCONFIG = Path("/sbin/ldconfig")
APPLETS = ("sh", "ls", "cat", "echo", "grep", "test", "true", "sleep", "head", "tr")
DIRS = ("bin", "sbin", "etc", "dev", "proc", "sys", "tmp", "usr/lib64", "usr/bin", "root")
# The PATH a hook entry gets from ``hook_env=HOOK_ENV`` (without ``hook_env`` the entry has no "env").
HOOK_ENV = ("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",)


def busybox() -> Path:
    """The host's (static) busybox; a clear error when busybox-static is not installed."""
    for candidate in BUSYBOX_CANDIDATES:
        if candidate.exists():
            return candidate
    raise FileNotFoundError("busybox missing (/bin/busybox): apt-get install busybox-static (./build.sh deps)")


def make_rootfs(path: Path, applets: Sequence[str] = APPLETS, ldconfig: bool = False) -> Path:
    """A busybox root file system at ``path``: ``/bin/busybox`` with a symlink per applet, /etc/passwd
    and /etc/group for root.

    ``ldconfig=True`` adds Debian's static ``/sbin/ldconfig``, an empty /etc/ld.so.conf and an (empty)
    /etc/ld.so.cache made by ``ldconfig -r``, so that ``ldconfig -p`` works inside and a hook can
    update the cache."""
    for d in DIRS:
        (path / d).mkdir(parents=True, exist_ok=True)
    shutil.copy2(busybox(), path / "bin" / "busybox")
    for applet in applets:
        (path / "bin" / applet).symlink_to("busybox")
    (path / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (path / "etc" / "group").write_text("root:x:0:\n")
    if ldconfig:
        if not LDCONFIG.exists():
            raise FileNotFoundError(f"{LDCONFIG} missing: apt-get install libc-bin")
        shutil.copy2(LDCONFIG, path / "sbin" / "ldconfig")
        (path / "etc" / "ld.so.conf").write_text("")
        subprocess.run([str(LDCONFIG), "-r", str(path)], check=True)
    return path


def rootfs_tar(rootfs: Path) -> bytes:
    """The root file system ``rootfs`` as an uncompressed tar (entries ``.``, ``./bin``, ...): an image
    layer, or the input of ``docker/podman import``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(rootfs, arcname=".")
    return buf.getvalue()


def busybox_layer(tmp: Path) -> bytes:
    """An image layer: a root file system holding busybox (static) and /bin/sh, built in ``tmp / "rootfs"``."""
    return rootfs_tar(make_rootfs(tmp / "rootfs", applets=("sh",)))


def oci_archive(layer: bytes, name: str) -> bytes:
    """An OCI image layout (as a tar) with one layer (``rootfs_tar``) named ``name``, for ``ctr images import``."""
    blobs: dict[str, bytes] = {}

    def blob(data: bytes) -> tuple[str, int]:
        d = hashlib.sha256(data).hexdigest()
        blobs[d] = data
        return "sha256:" + d, len(data)

    gz = gzip.compress(layer, mtime=0)
    layer_digest, layer_size = blob(gz)
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                         "rootfs": {"type": "layers",
                                    "diff_ids": ["sha256:" + hashlib.sha256(layer).hexdigest()]}}).encode()
    cfg_digest, cfg_size = blob(config)
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                      "digest": cfg_digest, "size": cfg_size},
                           "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                       "digest": layer_digest, "size": layer_size}]}).encode()
    m_digest, m_size = blob(manifest)
    index = json.dumps({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": m_digest, "size": m_size,
        "annotations": {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": "1"}}]}).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        files = {"oci-layout": b'{"imageLayoutVersion":"1.0.0"}', "index.json": index}
        files.update({f"blobs/sha256/{d}": data for d, data in blobs.items()})
        for path, data in files.items():
            ti = tarfile.TarInfo(path)
            ti.size = len(data)
            tar.addfile(ti, io.BytesIO(data))
    return out.getvalue()


def runc_bundle(directory: Path, args: Sequence[str], env: Sequence[str] = (), hook: Sequence[str] | None = None,
                hook_env: Sequence[str] | None = None, annotations: dict[str, str] | None = None,
                ldconfig: bool = False) -> Path:
    """An OCI bundle at ``directory``: ``runc spec`` with a busybox rootfs (``make_rootfs(directory /
    "rootfs", ldconfig=ldconfig)``) running ``args``, no terminal, a writable root.

    ``env`` is added to the process environment of ``runc spec`` (PATH, TERM).  ``hook`` = [path, argv0,
    arg...] is the one prestart hook, with ``"env": hook_env`` when given (runc runs a hook without
    "env" in its own environment).  ``annotations`` become the spec's annotations."""
    directory.mkdir(parents=True, exist_ok=True)
    make_rootfs(directory / "rootfs", ldconfig=ldconfig)
    subprocess.run(["runc", "spec"], cwd=directory, check=True, capture_output=True)
    config_path = directory / "config.json"
    spec = json.loads(config_path.read_text())
    spec["process"]["terminal"] = False
    spec["process"]["args"] = list(args)
    spec["process"]["env"] += list(env)
    spec["root"]["readonly"] = False
    if annotations:
        spec["annotations"] = dict(annotations)
    if hook:
        entry: dict[str, object] = {"path": hook[0], "args": list(hook[1:]) or [Path(hook[0]).name]}
        if hook_env is not None:
            entry["env"] = list(hook_env)
        spec["hooks"] = {"prestart": [entry]}
    config_path.write_text(json.dumps(spec, indent=2))
    return directory


def runc_run(bundle: Path, container_id: str, timeout: float = 60,
             root: Path | None = None) -> subprocess.CompletedProcess:
    """``runc [--root root] run --bundle bundle container_id`` to completion (output captured, no stdin);
    the container is force-deleted afterwards."""
    runc = ["runc"] + (["--root", str(root)] if root is not None else [])
    try:
        return subprocess.run([*runc, "run", "--bundle", str(bundle), container_id],
                              capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    finally:
        subprocess.run([*runc, "delete", "-f", container_id], capture_output=True)
