"""The golden CDI corpus (spec_fixtures/cdi, a copy of ../shared/golden/cdi) against .venv/bin and
against the frozen binary (dist/, as ``nvidia-ctk`` and ``nvidia-cdi-hook``): every case through the
corpus' own checker (spec_fixtures/check_cdi.py), errors compared too, nothing skipped."""

from __future__ import annotations

import argparse
import json

import pytest

import check_cdi
from paths import FIXTURES

CASES = sorted(p for p in (FIXTURES / "cdi").iterdir() if (p / "expected.json").exists())


def test_corpus_is_present():
    assert len(CASES) >= 89


def _args(ctk, hook, driver_root) -> argparse.Namespace:
    return argparse.Namespace(ctk=str(ctk), hook=hook, driver_root=str(driver_root),
                              hook_path="/usr/bin/nvidia-cdi-hook", strict_errors=True, only=None, verbose=True)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case, cdi_programs, driver_root):
    ctk, cdi_hook = cdi_programs
    spec = json.loads((case / "case.json").read_text())
    expected = json.loads((case / "expected.json").read_text())
    args = _args(ctk, str(cdi_hook), driver_root)
    table = {"{driver_root}": str(driver_root), "{dev_root}": str(driver_root), "{hook_path}": args.hook_path}
    if spec["tool"] == "hook":
        problems = check_cdi.run_hook_case(spec, expected, args)
    else:
        problems = check_cdi.run_ctk_case(spec, expected, args, table)
    assert problems == []


@pytest.mark.parametrize("case", [c for c in CASES if c.name.startswith("hook-")][:6],
                         ids=[c.name for c in CASES if c.name.startswith("hook-")][:6])
def test_golden_hook_case_through_nvidia_ctk_hook(case, ctk_bin, driver_root):
    """The same hooks are reachable as ``nvidia-ctk hook ...``."""
    spec = json.loads((case / "case.json").read_text())
    expected = json.loads((case / "expected.json").read_text())
    args = _args(ctk_bin, f"{ctk_bin} hook", driver_root)
    assert check_cdi.run_hook_case(spec, expected, args) == []
