"""Where things are: the one place the tests know the repository's layout.

Importable from tests and their helper libraries alike (``tests/conftest.py`` puts ``tests/`` on
``sys.path``): ``from paths import ROOT, VENV_BIN``.  What ``./build.sh`` makes (``.venv/``,
``build/``, ``dist/``) is named here, not checked: a test that needs it fails with
"run ./build.sh" when it is missing, never skips.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["ROOT", "FIXTURES", "TESTS", "BENCH", "VENV_BIN", "VENV_PYTHON", "HOOK_BIN", "CTK_BIN",
           "SHIM_BIN", "CDI_HOOK_BIN", "BUILD", "FAKE_LIB", "DIST", "DIST_BIN"]

#: The repository (the worktree a test runs from).
ROOT = Path(__file__).resolve().parent.parent
#: The project's copies of the golden corpora with their checkers (``spec_fixtures/``).
FIXTURES = ROOT / "spec_fixtures"
TESTS = ROOT / "tests"
#: The benchmarks (a test reuses a generator of theirs: ``sys.path.insert(0, str(BENCH))``).
BENCH = ROOT / "bench"
#: The virtual environment's entry points (``./build.sh venv``).
VENV_BIN = ROOT / ".venv" / "bin"
VENV_PYTHON = VENV_BIN / "python"
HOOK_BIN = VENV_BIN / "nvidia-container-runtime-hook"
CTK_BIN = VENV_BIN / "nvidia-ctk"
SHIM_BIN = VENV_BIN / "nvidia-container-runtime"
CDI_HOOK_BIN = VENV_BIN / "nvidia-cdi-hook"
#: Outputs of ``./build.sh native`` (the fake libnvidia-container in ``build/fake``).
BUILD = ROOT / "build"
FAKE_LIB = BUILD / "fake" / "libnvidia-container.so.1"
#: Output of ``./build.sh dist`` (the frozen hook).
DIST = ROOT / "dist"
#: The frozen binary, every program by its name (``freeze/programs.py``).
DIST_BIN = DIST / "nvidia-container-runtime-hook"
