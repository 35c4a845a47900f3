"""The golden shim corpus (spec_fixtures/runtime-shim, a copy of ../shared/golden/runtime-shim),
replayed case by case with the corpus's own checker against the venv console script and against
the frozen binary (the session's ``frozen_bin``, dist/'s rebuilt when stale, under the name
``nvidia-container-runtime``).  Variant cases
run the program through a symbolic link named nvidia-container-runtime.cdi / .legacy, as the
checker does by default; the installed .cdi/.legacy console scripts are checked too."""

from __future__ import annotations

import json

import pytest

from corpus import load_checker
from paths import FIXTURES
from paths import SHIM_BIN as SHIM

CORPUS = FIXTURES / "runtime-shim"
CHECK = load_checker(CORPUS / "check_shim.py")
CASES = sorted(p.parent.name for p in CORPUS.glob("*/expected.json"))


def test_corpus_is_complete():
    assert len(CASES) >= 145


@pytest.fixture(scope="module", params=["frozen", "venv"])
def prefixes(request, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("variants")
    if request.param == "venv":
        shim = SHIM
        assert shim.exists(), f"{shim} missing: run ./build.sh"
    else:
        shim = tmp / "nvidia-container-runtime"
        shim.symlink_to(request.getfixturevalue("frozen_bin"))
    prefixes = {"default": [str(shim)]}
    for variant in ("cdi", "legacy"):
        link = tmp / f"nvidia-container-runtime.{variant}"
        link.symlink_to(shim)
        prefixes[variant] = [str(link)]
    return prefixes


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case, prefixes):
    expected = json.loads((CORPUS / case / "expected.json").read_text())
    observed = CHECK.run_case(prefixes, CORPUS / case)
    assert CHECK.compare(expected, observed) == []


@pytest.mark.parametrize("case", [c for c in CASES if c.startswith(("cdi-015", "legacy-045", "legacy-046"))])
def test_variant_console_scripts(case):
    """The installed nvidia-container-runtime.cdi / .legacy scripts behave as the symlinks do."""
    prefixes = {"default": [str(SHIM)], **{v: [str(SHIM.parent / f"nvidia-container-runtime.{v}")]
                                           for v in ("cdi", "legacy")}}
    expected = json.loads((CORPUS / case / "expected.json").read_text())
    assert CHECK.compare(expected, CHECK.run_case(prefixes, CORPUS / case)) == []
