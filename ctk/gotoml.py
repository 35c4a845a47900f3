"""Plain-dict TOML trees with the reference's (go-toml v1) path semantics and serialiser.

The runtime engines (:mod:`ctk.containerd`, :mod:`ctk.crio`) work on plain ``dict`` trees.
These helpers reproduce how the reference walks and edits its trees, including its quirks
(an intermediate key that holds a non-table value is skipped, not replaced), so that the
documents we produce match the reference for every input.  :func:`dumps` writes a fresh
document (our own drop-in files) in the reference's layout; users' files are never
re-serialised with it (see :mod:`ctk.tomledit`).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from hook.tomlcompat import quote

Tree = dict[str, Any]

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def get_path(tree: Any, keys: list[str]) -> Any:
    """The value at ``keys`` or ``None``; any non-table on the way gives ``None``."""
    node = tree
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
    return node


def get_str(tree: Any, keys: list[str]) -> str:
    """The string at ``keys``, or ``""`` when absent or not a string."""
    v = get_path(tree, keys)
    return v if isinstance(v, str) else ""


def set_path(tree: Tree, keys: list[str], value: Any) -> None:
    """Set ``keys`` to ``value`` like go-toml's ``SetPath``.

    Missing intermediate tables are created; an intermediate key holding a non-table
    value is skipped (the walk stays at the current table), exactly as the reference does.
    """
    node = tree
    for k in keys[:-1]:
        if k not in node:
            node[k] = {}
        nxt = node[k]
        if isinstance(nxt, dict):
            node = nxt
        elif isinstance(nxt, list) and nxt and all(isinstance(x, dict) for x in nxt):
            node = nxt[-1]
    node[keys[-1]] = value


def delete_path(tree: Tree, keys: list[str]) -> bool:
    """Delete ``keys`` if present; returns whether something was deleted."""
    parent = get_path(tree, keys[:-1]) if len(keys) > 1 else tree
    if isinstance(parent, dict) and keys[-1] in parent:
        del parent[keys[-1]]
        return True
    return False


def prune_empty(tree: Tree, keys: list[str]) -> None:
    """Delete the tables at ``keys``, ``keys[:-1]``, ... while they are empty tables."""
    for n in range(len(keys), 0, -1):
        v = get_path(tree, keys[:n])
        if isinstance(v, dict) and not v:
            delete_path(tree, keys[:n])
        else:
            break


def obstruction(tree: Any, keys: list[str]) -> str | None:
    """If walking ``keys`` meets a value that is not a table, the dotted key of that value
    and its type (e.g. ``'plugins.x.runtimes is a string'``); None when the path is clear."""
    node = tree
    for i, k in enumerate(keys):
        if not isinstance(node, dict) or k not in node:
            return None
        node = node[k]
        if not isinstance(node, dict):
            kind = {str: "a string", bool: "a boolean", int: "an integer", float: "a float",
                    list: "an array"}.get(type(node), type(node).__name__)
            dotted = ".".join(_quote_key(x) for x in keys[: i + 1])
            return f"{dotted} is {kind}, not a table"
    return None


# --------------------------------------------------------------------------- serialiser

def _quote_key(k: str) -> str:
    return k if _BARE.match(k) else _quote_str(k)


_quote_str = quote


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        r = repr(v)
        return r if ("." in r or "e" in r or "n" in r) else r + ".0"
    if isinstance(v, str):
        return _quote_str(v)
    if isinstance(v, (_dt.datetime, _dt.date, _dt.time)):
        return v.isoformat()
    if isinstance(v, list):
        return "[" + ", ".join(_inline(x) for x in v) + "]"
    if isinstance(v, dict):
        return _inline(v)
    raise TypeError(f"cannot serialise {type(v).__name__}")


def _inline(v: Any) -> str:
    if isinstance(v, dict):
        if not v:
            return "{}"
        return "{ " + ", ".join(f"{_quote_key(k)} = {_inline(x)}" for k, x in sorted(v.items())) + " }"
    return _scalar(v)


def _is_table_array(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _emit(tree: Tree, path: list[str], out: list[str]) -> None:
    depth = len(path)
    key_indent = "  " * depth
    scalars = sorted(k for k, v in tree.items() if not isinstance(v, dict) and not _is_table_array(v))
    tables = sorted(k for k, v in tree.items() if isinstance(v, dict) or _is_table_array(v))
    for k in scalars:
        out.append(f"{key_indent}{_quote_key(k)} = {_scalar(tree[k])}\n")
    for k in tables:
        sub = path + [k]
        header = ".".join(_quote_key(x) for x in sub)
        head_indent = "  " * (len(sub) - 1)
        v = tree[k]
        if isinstance(v, dict):
            out.append(f"\n{head_indent}[{header}]\n")
            _emit(v, sub, out)
        else:
            for item in v:
                out.append(f"\n{head_indent}[[{header}]]\n")
                _emit(item, sub, out)


def dumps(tree: Tree) -> str:
    """Serialise ``tree`` in the reference's layout (sorted keys, indented headers).

    Returns ``""`` for an empty tree.
    """
    if not tree:
        return ""
    out: list[str] = []
    _emit(tree, [], out)
    return "".join(out)
