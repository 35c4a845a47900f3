"""The golden runtime corpus (spec_fixtures/runtime, a copy of ../shared/golden/runtime),
replayed case by case against the console script with the corpus's own checker
(semantic comparison of standard output; exact exit code, stderr substring, files)."""

from __future__ import annotations

import json

import pytest

from corpus import load_checker
from paths import CTK_BIN as CTK, FIXTURES

CORPUS = FIXTURES / "runtime"
CHECK = load_checker(CORPUS / "check_runtime.py")
CASES = sorted(p.parent.name for p in CORPUS.glob("*/expected.json"))


def test_corpus_is_complete():
    assert len(CASES) >= 141
    assert (CORPUS / "README.md").exists()


@pytest.mark.parametrize("case", CASES)
def test_golden_case(case):
    assert CTK.exists(), f"{CTK} missing: run ./build.sh venv"
    case_dir = CORPUS / case
    expected = json.loads((case_dir / "expected.json").read_text())
    observed = CHECK.run_case([str(CTK)], case_dir)
    problems = CHECK.compare(expected, observed, case_dir, semantic=True)
    assert problems == [], "\n".join(problems) + f"\nstderr: {observed['stderr'][-500:]}"
    # never a Python traceback, whatever the input
    assert "Traceback" not in observed["stderr"] and "internal error" not in observed["stderr"]
