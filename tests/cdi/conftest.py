"""Fixtures of the CDI tests: the programs under test, ``cdi_programs`` = (nvidia-ctk, nvidia-cdi-hook),
from the venv and from the frozen binary (the fake driver root, ``driver_root``, is in
``tests/conftest.py``)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from freeze_testlib import current_dist
from paths import CDI_HOOK_BIN, CTK_BIN


@pytest.fixture(scope="session")
def ctk_bin() -> Path:
    p = CTK_BIN
    assert p.exists(), f"{p} missing: run ./build.sh"
    return p


@pytest.fixture(scope="session")
def cdi_hook_bin() -> Path:
    p = CDI_HOOK_BIN
    assert p.exists(), f"{p} missing: run ./build.sh"
    return p


@pytest.fixture(scope="session")
def frozen_cdi_programs(tmp_path_factory) -> tuple[Path, Path]:
    """The frozen binary (dist/, current) under the names ``nvidia-ctk`` and ``nvidia-cdi-hook``:
    symbolic links, as ``nvidia-ctk install`` and the packages lay it out."""
    binary = current_dist(tmp_path_factory)
    links = []
    for name in ("nvidia-ctk", "nvidia-cdi-hook"):
        link = binary.parent / name
        os.symlink(binary.name, link)
        links.append(link)
    return links[0], links[1]


@pytest.fixture(scope="session", params=["venv", "frozen"])
def cdi_programs(request) -> tuple[Path, Path]:
    """(nvidia-ctk, nvidia-cdi-hook) of the venv's console scripts, then of the frozen binary."""
    if request.param == "venv":
        return request.getfixturevalue("ctk_bin"), request.getfixturevalue("cdi_hook_bin")
    return request.getfixturevalue("frozen_cdi_programs")
