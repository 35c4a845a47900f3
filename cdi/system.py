"""``nvidia-ctk system create-device-nodes`` and ``create-dev-char-symlinks`` (issue 9 item 4).

``/dev/char/<major>:<minor>`` links to the NVIDIA device nodes keep cgroup v2 device rules working
when systemd reloads units (NVIDIA/nvidia-container-toolkit#48): systemd resolves the rules'
device paths through ``/dev/char``.  Both commands are idempotent; ``--dry-run`` only logs.
"""

from __future__ import annotations

import logging
import os
import stat

from hook import atomicfile

from . import errors

__all__ = ["run", "control_nodes_plan", "char_links_plan", "create_nodes", "create_links", "device_majors"]

log = logging.getLogger("ctk")

# (path under /dev, /proc/devices names, minor) of the control devices.
CONTROL = (("nvidiactl", ("nvidia-frontend", "nvidia"), 255), ("nvidia-modeset", ("nvidia-frontend", "nvidia"), 254),
           ("nvidia-uvm", ("nvidia-uvm",), 0), ("nvidia-uvm-tools", ("nvidia-uvm",), 1))


def device_majors(proc_devices: str = "/proc/devices") -> dict[str, int]:
    """Character-device majors by name, from ``/proc/devices``."""
    out: dict[str, int] = {}
    try:
        with open(proc_devices) as f:
            text = f.read(1 << 16)
    except OSError as exc:
        raise errors.CdiError(f"failed to read {proc_devices}: {exc.strerror}") from None
    section = ""
    for line in text.splitlines():
        if line.endswith(":"):
            section = line
            continue
        major, _, name = line.strip().partition(" ")
        if section.startswith("Character") and major.isdigit() and name:
            out.setdefault(name.strip(), int(major))
    return out


def control_nodes_plan(majors: dict[str, int]) -> list[tuple[str, int, int]]:
    """(name, major, minor) of the control device nodes the loaded modules provide (pure)."""
    plan = []
    for name, keys, minor in CONTROL:
        major = next((majors[k] for k in keys if k in majors), None)
        if major is not None:
            plan.append((name, major, minor))
    return plan


def create_nodes(dev_root: str, plan: list[tuple[str, int, int]], dry_run: bool) -> list[str]:
    """mknod each planned node (0666) unless a char device with those numbers is there."""
    done = []
    for name, major, minor in plan:
        path = os.path.join(dev_root, "dev", name)
        try:
            st = os.lstat(path)
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(major, minor):
                continue
            raise errors.CdiError(f"{path} exists and is not the device {major}:{minor}")
        except FileNotFoundError:
            pass
        log.info("Creating device node %s (%d:%d)%s", path, major, minor, " (dry run)" if dry_run else "")
        if not dry_run:
            try:
                os.mknod(path, 0o666 | stat.S_IFCHR, os.makedev(major, minor))
                os.chmod(path, 0o666)
            except OSError as exc:
                raise errors.CdiError(f"failed to create device node {path}: {exc.strerror}") from None
        done.append(path)
    return done


def char_links_plan(driver_root: str) -> list[tuple[str, str]]:
    """(link name ``major:minor``, target device path) for every NVIDIA char device under
    ``<driver root>/dev`` (pure over the folder listing)."""
    dev = os.path.join(driver_root, "dev")
    out = []
    for sub in ("", "nvidia-caps", "nvidia-caps-imex-channels"):
        folder = os.path.join(dev, sub) if sub else dev
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for n in names:
            if not sub and not n.startswith("nvidia"):
                continue
            p = os.path.join(folder, n)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode):
                out.append((f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}", p))
    return out


def create_links(dev_char: str, plan: list[tuple[str, str]], dry_run: bool) -> list[str]:
    done = []
    if not dry_run:
        os.makedirs(dev_char, 0o755, exist_ok=True)
    for name, target in plan:
        link = os.path.join(dev_char, name)
        if atomicfile.links_to(link, target):
            continue
        log.info("Creating link %s => %s%s", link, target, " (dry run)" if dry_run else "")
        if not dry_run:
            try:
                atomicfile.symlink(target, link)
            except OSError as exc:
                raise errors.CdiError(f"failed to create symlink {link}: {exc.strerror}") from None
        done.append(link)
    return done


def run(args: list[str]) -> int:
    from .cli import parse
    from ctk.cli_flags import Flag
    if not args:
        raise errors.UsageError("No help topic for ''")
    sub, rest = args[0], args[1:]
    if sub == "create-device-nodes":
        p = parse([Flag(("dev-root",), "string", "/", "the root where /dev is located", ("NVIDIA_DEV_ROOT",)),
                   Flag(("control-devices",), "bool", False, "create the control device nodes"),
                   Flag(("load-kernel-modules",), "bool", False, "load the NVIDIA kernel modules first"),
                   Flag(("dry-run",), "bool", False, "only log what would be created")], rest)
        if p.values["load-kernel-modules"]:
            raise errors.UsageError("--load-kernel-modules is not supported; load the modules with modprobe first")
        if p.values["control-devices"]:
            create_nodes(p.values["dev-root"], control_nodes_plan(device_majors()), p.values["dry-run"])
        return 0
    if sub == "create-dev-char-symlinks":
        p = parse([Flag(("dev-char-path",), "string", "/dev/char", "the /dev/char folder",
                        ("DEV_CHAR_PATH",)),
                   Flag(("driver-root",), "string", "/", "the driver root", ("DRIVER_ROOT",)),
                   Flag(("create-all",), "bool", False, "also for nodes not yet used (same as default here)",
                        ("CREATE_ALL",)),
                   Flag(("load-kernel-modules",), "bool", False, "load the NVIDIA kernel modules first"),
                   Flag(("watch",), "bool", False, "not supported"),
                   Flag(("dry-run",), "bool", False, "only log what would be created", ("DRY_RUN",))], rest)
        if p.values["watch"] or p.values["load-kernel-modules"]:
            raise errors.UsageError("--watch and --load-kernel-modules are not supported")
        create_links(p.values["dev-char-path"], char_links_plan(p.values["driver-root"]), p.values["dry-run"])
        return 0
    raise errors.UsageError(f"No help topic for '{sub}'")
