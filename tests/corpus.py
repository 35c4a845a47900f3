"""The golden corpora's own checkers (``spec_fixtures/**/check_*.py``), loaded as modules so that
pytest can replay a corpus case by case."""

from __future__ import annotations

import importlib.util
from pathlib import Path


def load_checker(path: Path):
    """The checker script at ``path`` as a module."""
    spec = importlib.util.spec_from_file_location(path.stem, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod
