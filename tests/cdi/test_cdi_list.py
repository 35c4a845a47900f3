"""cdi list: folder priority, conflicts and invalid specs (spec section 8.1)."""

from __future__ import annotations

import json
import subprocess

from cdi.registry import Registry


def _spec(kind="nvidia.com/gpu", names=("0",), version="0.5.0"):
    return json.dumps({"cdiVersion": version, "kind": kind,
                       "devices": [{"name": n, "containerEdits": {"env": [f"N={n}"]}} for n in names]})


def test_later_folder_shadows_and_same_folder_conflicts(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    (a / "x.json").write_text(_spec(names=("0", "1")))
    (b / "y.json").write_text(_spec(names=("1",)))
    (b / "z.yaml").write_text(_spec(names=("2",)))
    (b / "w.yaml").write_text(_spec(names=("2",)))
    reg = Registry([str(a), str(b)])
    assert reg.device_names() == ["nvidia.com/gpu=0", "nvidia.com/gpu=1"]
    assert any("conflicting device \"nvidia.com/gpu=2\"" in e for _, errs in reg.errors for e in errs)


def test_invalid_spec_is_reported_and_skipped(tmp_path, ctk_bin):
    (tmp_path / "bad.yaml").write_text("cdiVersion: 0.5.0\nkind: nvidia.com/gpu\ndevices: []\n")
    (tmp_path / "unknown.yaml").write_text(_spec().replace('"kind"', '"frob": 1, "kind"'))
    (tmp_path / "good.json").write_text(_spec(kind="example.com/net", names=("eth0",)))
    p = subprocess.run([str(ctk_bin), "cdi", "list", "--spec-dir", str(tmp_path)], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout == "example.com/net=eth0\n"
    assert "The following registry errors were reported:" in p.stderr
    assert "invalid spec, no devices" in p.stderr and 'unknown field \\"frob\\"' in p.stderr


def test_missing_folder_lists_nothing(tmp_path, ctk_bin):
    p = subprocess.run([str(ctk_bin), "cdi", "list", "--spec-dir", str(tmp_path / "none")], capture_output=True,
                       text=True)
    assert p.returncode == 0 and p.stdout == "" and 'msg="Found 0 CDI devices"' in p.stderr
