"""The golden hook corpus (spec_fixtures/hook, a copy of ../shared/golden/hook) against .venv/bin."""

from __future__ import annotations

import json

import pytest

import check_hook
from hook_testlib import FIXTURES

CASES = sorted(p for p in (FIXTURES / "hook").iterdir() if (p / "expected.json").exists())


def test_corpus_is_present():
    assert len(CASES) >= 397


def test_host_has_no_libnvidia_container():
    """The corpus expects an exec of nvidia-container-cli: with the default injector (auto) that holds only
    where the library is not installed on a host path (docs/injector.md)."""
    from hook.nvc import find_library

    assert find_library(None, "") is None, "libnvidia-container.so.1 is installed: auto would inject in-process"


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden_case(case, hook_bin):
    expected = json.loads((case / "expected.json").read_text())
    observed = check_hook.run_case([str(hook_bin)], case)
    assert check_hook.compare(expected, observed) == []
