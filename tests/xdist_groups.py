"""``--dist loadgroup`` that works with pytest 9: pytest-xdist 3.8 puts a test's ``xdist_group`` into
``item._nodeid``, which pytest 9 no longer reads (``Node.nodeid`` comes from ``item._id``), so every
test would be scheduled alone.  Here the controller reads the group of each test file from its
module-level ``pytestmark`` (``pytest.mark.xdist_group("name")``) instead; ``tests/conftest.py``
installs the scheduler.  Groups are per module: mark the module, not single tests."""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from xdist.scheduler import LoadGroupScheduling

__all__ = ["ModuleGroupScheduling", "module_group"]


@functools.cache
def module_group(path: Path) -> str | None:
    """The name in the ``xdist_group`` mark of the module-level ``pytestmark`` of ``path``, if any."""
    try:
        tree = ast.parse(path.read_text())
    except (OSError, SyntaxError, ValueError):
        return None
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "pytestmark"
                                                for t in node.targets):
            for call in ast.walk(node.value):
                if (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                        and call.func.attr == "xdist_group" and call.args
                        and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
                    return call.args[0].value
    return None


class ModuleGroupScheduling(LoadGroupScheduling):
    """LoadGroupScheduling whose groups come from :func:`module_group` of each test's file."""

    def _split_scope(self, nodeid: str) -> str:
        if "@" in nodeid:
            return super()._split_scope(nodeid)
        group = module_group(Path(self.config.rootpath) / nodeid.split("::", 1)[0])
        return nodeid if group is None else group
