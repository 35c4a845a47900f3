"""nvidia-ctk system create-device-nodes / create-dev-char-symlinks."""

from __future__ import annotations

import os
import stat
import subprocess

from cdi import system


def test_control_nodes_from_proc_devices(tmp_path):
    pd = tmp_path / "devices"
    pd.write_text("Character devices:\n  1 mem\n195 nvidia-frontend\n511 nvidia-uvm\n\nBlock devices:\n  8 sd\n")
    plan = system.control_nodes_plan(system.device_majors(str(pd)))
    assert plan == [("nvidiactl", 195, 255), ("nvidia-modeset", 195, 254), ("nvidia-uvm", 511, 0),
                    ("nvidia-uvm-tools", 511, 1)]
    (tmp_path / "dev").mkdir()
    made = system.create_nodes(str(tmp_path), plan, dry_run=False)
    assert len(made) == 4
    st = os.stat(tmp_path / "dev" / "nvidia-uvm-tools")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(511, 1) and stat.S_IMODE(st.st_mode) == 0o666
    assert system.create_nodes(str(tmp_path), plan, dry_run=False) == []  # idempotent


def test_dev_char_symlinks_for_the_fake_driver(driver_root, ctk_bin, tmp_path):
    devchar = tmp_path / "char"
    p = subprocess.run([str(ctk_bin), "system", "create-dev-char-symlinks", "--driver-root", str(driver_root),
                        "--dev-char-path", str(devchar)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert os.readlink(devchar / "195:0") == f"{driver_root}/dev/nvidia0"
    assert os.readlink(devchar / "195:255") == f"{driver_root}/dev/nvidiactl"
    assert os.readlink(devchar / "510:15") == f"{driver_root}/dev/nvidia-caps/nvidia-cap15"
    assert os.readlink(devchar / "509:1") == f"{driver_root}/dev/nvidia-caps-imex-channels/channel1"
    assert not (devchar / "231:192").exists()  # infiniband is not NVIDIA's
    p = subprocess.run([str(ctk_bin), "system", "create-dev-char-symlinks", "--driver-root", str(driver_root),
                        "--dev-char-path", str(devchar)], capture_output=True, text=True)
    assert p.returncode == 0 and "Creating link" not in p.stderr  # nothing left to do


def test_dry_run_creates_nothing(driver_root, ctk_bin, tmp_path):
    devchar = tmp_path / "char"
    p = subprocess.run([str(ctk_bin), "system", "create-dev-char-symlinks", "--driver-root", str(driver_root),
                        "--dev-char-path", str(devchar), "--dry-run"], capture_output=True, text=True)
    assert p.returncode == 0 and "Creating link" in p.stderr and not devchar.exists()


def test_unknown_system_command_is_one_error_line(ctk_bin):
    p = subprocess.run([str(ctk_bin), "system", "frob"], capture_output=True, text=True)
    assert p.returncode == 1 and p.stderr.count("\n") == 1 and "No help topic for 'frob'" in p.stderr
