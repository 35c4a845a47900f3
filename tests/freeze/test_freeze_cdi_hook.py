"""The frozen binary is also ``nvidia-cdi-hook`` (by name): the golden CDI hook cases through it."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import pytest

import check_cdi
from paths import FIXTURES

HOOK_CASES = sorted(p for p in (FIXTURES / "cdi").iterdir() if p.name.startswith("hook-"))


@pytest.fixture(scope="module")
def frozen_cdi_hook(frozen_bin, tmp_path_factory) -> Path:
    link = tmp_path_factory.mktemp("cdi") / "nvidia-cdi-hook"
    os.symlink(frozen_bin, link)
    return link


@pytest.mark.parametrize("case", HOOK_CASES, ids=[c.name for c in HOOK_CASES])
def test_frozen_binary_named_nvidia_cdi_hook_passes_hook_case(case, frozen_cdi_hook):
    args = argparse.Namespace(hook=str(frozen_cdi_hook), ctk=None, driver_root=None, strict_errors=True,
                              hook_path="/usr/bin/nvidia-cdi-hook", only=None, verbose=True)
    spec = json.loads((case / "case.json").read_text())
    expected = json.loads((case / "expected.json").read_text())
    assert check_cdi.run_hook_case(spec, expected, args) == []
