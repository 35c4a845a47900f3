"""Style-preserving TOML edits: apply the difference between two plain trees to a tomlkit
document, so comments, key order, quoting and blank lines of everything we did not change
are kept.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.toml_document import TOMLDocument

from .errors import ConfigLoadError


def parse(text: str) -> TOMLDocument:
    """Parse ``text`` with tomlkit; raises :class:`ConfigLoadError` on invalid TOML."""
    try:
        return tomlkit.parse(text)
    except (TOMLKitError, ValueError) as exc:
        raise ConfigLoadError(" ".join(str(exc).split())) from None


def plain(doc: Any) -> Any:
    """A tomlkit document/item as plain Python values."""
    if hasattr(doc, "unwrap"):
        return doc.unwrap()
    return doc


def same(a: Any, b: Any) -> bool:
    """Strict equality (``True`` is not ``1``, ``1`` is not ``1.0``)."""
    if type(a) is not type(b) and not (isinstance(a, dict) and isinstance(b, dict)) \
            and not (isinstance(a, list) and isinstance(b, list)):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def _is_table(item: Any) -> bool:
    return isinstance(item, (tomlkit.items.Table, tomlkit.items.InlineTable, dict)) or \
        type(item).__name__ == "OutOfOrderTableProxy"


def apply(container: Any, old: dict, new: dict) -> None:
    """Change tomlkit ``container`` (whose plain value is ``old``) so its value becomes ``new``."""
    for k in list(old):
        if k not in new:
            del container[k]
    for k, v in new.items():
        if k not in old:
            container[k] = _item(v)
            _match_indent(container, k)
            continue
        ov = old[k]
        if same(ov, v):
            continue
        cur = container[k]
        if isinstance(ov, dict) and isinstance(v, dict) and _is_table(cur):
            apply(cur, ov, v)
        elif isinstance(ov, list) and isinstance(v, list) and isinstance(cur, list) \
                and len(v) >= len(ov) and all(same(a, b) for a, b in zip(ov, v)):
            for x in v[len(ov):]:
                cur.append(x)
        elif isinstance(ov, list) and isinstance(v, list) and isinstance(cur, list) \
                and _is_subsequence(v, ov):
            keep, j = [], 0
            for i, x in enumerate(ov):
                if j < len(v) and same(x, v[j]):
                    keep.append(i)
                    j += 1
            for i in reversed(range(len(ov))):
                if i not in keep:
                    del cur[i]
            if not same(plain(cur), v):
                container[k] = _item(v)
        else:
            container[k] = _item(v)


def _body(container: Any) -> list:
    if isinstance(container, tomlkit.items.Table):
        return container.value.body
    if isinstance(container, TOMLDocument):
        return container.body
    return []


def _match_indent(container: Any, key: str) -> None:
    """Give a newly added key or table the indentation of its siblings."""
    try:
        new = container.item(key)
    except (KeyError, AttributeError, TOMLKitError):
        return
    body = [(k, it) for k, it in _body(container) if k is not None and k.key != key]
    tables = [it for _, it in body if isinstance(it, tomlkit.items.Table)]
    values = [it for _, it in body if not isinstance(it, (tomlkit.items.Table, tomlkit.items.AoT))
              and hasattr(it, "trivia")]
    if isinstance(new, tomlkit.items.Table):
        if not tables:
            return
        sib = tables[0]
        head = sib.trivia.indent
        inner = [it for k, it in _body(sib) if k is not None and hasattr(it, "trivia")
                 and not isinstance(it, tomlkit.items.Table)]
        step = (len(inner[0].trivia.indent) - len(head)) if inner else 0
        _indent_table(new, head, max(step, 0))
    elif values and hasattr(new, "trivia"):
        new.trivia.indent = values[0].trivia.indent


def _indent_table(table: Any, head: str, step: int) -> None:
    table.trivia.indent = head
    inner = head + " " * step
    for k, it in _body(table):
        if k is None:
            continue
        if isinstance(it, tomlkit.items.Table):
            _indent_table(it, inner if not it.is_super_table() else head, step)
        elif hasattr(it, "trivia"):
            it.trivia.indent = inner


def _is_subsequence(short: list, long: list) -> bool:
    it = iter(long)
    return all(any(same(s, y) for y in it) for s in short)


def _item(v: Any) -> Any:
    if isinstance(v, dict):
        t = tomlkit.table()
        for k, x in v.items():
            t[k] = _item(x)
        return t
    return tomlkit.item(v)


def render(doc: TOMLDocument) -> str:
    return tomlkit.dumps(doc)


class TomlFile:
    """A user's TOML file (or its absence) opened for a style-preserving edit."""

    def __init__(self, path: str, data: bytes | None):
        self.path = path
        self.before = data
        if data is None:
            self.doc = None
            self.tree: dict = {}
        else:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise ConfigLoadError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
            self.doc = parse(text)
            self.tree = plain(self.doc)

    def copy_tree(self) -> dict:
        import copy
        return copy.deepcopy(self.tree)

    def render(self, new: dict) -> bytes | None:
        """The file content for tree ``new`` (None: the file should not exist).

        An existing file is edited in place (comments, order and formatting of untouched
        parts kept); a new file is written in the reference's layout.
        """
        from . import gotoml
        if self.doc is None:
            text = gotoml.dumps(new)
            return text.encode() if text else None
        if same(self.tree, new):
            return self.before
        import copy
        doc = copy.deepcopy(self.doc)
        apply(doc, self.tree, new)
        text = render(doc)
        if not new and not text.strip():
            return None
        if self.before.endswith(b"\n") and not text.endswith("\n"):
            text += "\n"
        return text.encode()
