"""Style-preserving TOML edits: apply the difference between two plain trees to a tomlkit
document, so comments, key order, quoting and blank lines of everything we did not change
are kept.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.toml_document import TOMLDocument

from hook import tomlcompat
from hook.values import copy_plain

from . import tomlsections
from . import errors


def parse(text: str) -> TOMLDocument:
    """Parse ``text`` with tomlkit as the reference (go-toml v1) reads it: a text tomlkit refuses
    is parsed again with go-toml v1's extensions rewritten as TOML 1.0 (:mod:`hook.tomlcompat`;
    only the offending tokens change).  Raises :class:`ConfigLoadError` (tomlkit's message for
    the original text) on invalid TOML."""
    try:
        return tomlkit.parse(text)
    except RecursionError:
        raise errors.ConfigLoadError(str(tomlcompat.too_deep())) from None
    except (TOMLKitError, ValueError) as exc:
        first = exc
    try:
        fixed = tomlcompat.normalise(text)
    except tomlcompat.TOMLError as exc:
        raise errors.ConfigLoadError(str(exc)) from None
    if fixed is not None:
        try:
            return tomlkit.parse(fixed)
        except (TOMLKitError, ValueError, RecursionError):
            pass
    raise errors.ConfigLoadError(" ".join(str(first).split())) from None


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
    """A user's TOML file (or its absence) opened for a style-preserving edit.

    ``tree`` is read by the same reader as every config source (:func:`hook.tomlcompat.loads`);
    the tomlkit document that an edit needs is parsed only when a render changes something, and
    only the part before the first table header when the change is confined to top-level keys
    that are not tables (``imports``, ``version``: the drop-in case), else only the sections the
    change touches (:mod:`ctk.tomlsections`, for TOML 1.0 text).  tomlkit parses about 0.6 MB/s,
    so this is what keeps a large file's ``configure`` fast (docs/performance.md).
    """

    def __init__(self, path: str, data: bytes | None):
        self.path = path
        self.before = data
        self._doc: TOMLDocument | None = None
        self.text = ""
        self.tree: dict = {}
        self.strict = False  # TOML 1.0 as it stands (no go-toml v1 extension to rewrite)
        if data is not None:
            try:
                self.text = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise errors.ConfigLoadError(f"{path}: invalid UTF-8 at byte {exc.start}") from None
            self.tree, self.strict = _read(self.text)

    @property
    def doc(self) -> TOMLDocument | None:
        """The tomlkit document (parsed on first use; None for a missing file)."""
        if self._doc is None and self.before is not None:
            self._doc = _parse_as(self.text, self.tree, self.path)
        return self._doc

    def _take_doc(self) -> TOMLDocument:
        """The parsed document, to be edited: handed over, not copied (copying a large tomlkit
        document costs as much as parsing it again, and most runs render one edit)."""
        doc = self.doc
        self._doc = None  # a later edit parses again
        return doc

    def copy_tree(self) -> dict:
        """A copy of ``tree`` to edit (tables and arrays copied; values are immutable)."""
        return copy_plain(self.tree)

    def render(self, new: dict) -> bytes | None:
        """The file content for tree ``new`` (None: the file should not exist).

        An existing file is edited in place (comments, order and formatting of untouched
        parts kept); a new file is written in the reference's layout.
        """
        from . import gotoml
        if self.before is None:
            text = gotoml.dumps(new)
            return text.encode() if text else None
        if same(self.tree, new):
            return self.before
        text = self._render_top_level(new)
        if text is None and self.strict and self._doc is None:
            text = tomlsections.edit(self.text, self.tree, new)
        if text is None:
            doc = self._take_doc()
            apply(doc, self.tree, new)
            text = render(doc)
        if not new and not text.strip():
            return None
        if self.before.endswith(b"\n") and not text.endswith("\n"):
            text += "\n"
        return text.encode()

    def _render_top_level(self, new: dict) -> str | None:
        """:meth:`render` when only top-level keys that are not tables change: edit just the text
        before the first table header; None when that does not apply."""
        old = self.tree
        changed = [k for k in {**old, **new} if not (k in old and k in new and same(old[k], new[k]))]
        if any(_is_tableish(old.get(k)) or _is_tableish(new.get(k)) for k in changed):
            return None
        split = _split_top_level(self.text, old)
        if split is None:
            return None
        part, part_tree, head_keys, rest = split
        doc = _parse_as(part, part_tree, self.path)
        target = {k: v for k, v in new.items() if k in head_keys or k not in old}
        for k, v in part_tree.items():
            if k not in head_keys:
                target[k] = v  # the first table header, unchanged
        apply(doc, part_tree, target)
        return render(doc) + rest


def _read(text: str) -> tuple[dict, bool]:
    """``text``'s tree as :func:`hook.tomlcompat.loads` reads it, and whether ``text`` is TOML 1.0 as
    it stands (the strict parse is done once); raises :class:`ConfigLoadError`."""
    import tomllib
    try:
        try:
            return tomlcompat.loads_strict(text), True
        except tomllib.TOMLDecodeError as exc:
            first = exc
        return tomlcompat.loads_after(text, first), False
    except tomlcompat.TOMLError as exc:
        raise errors.ConfigLoadError(str(exc)) from None


def _is_tableish(v: Any) -> bool:
    return isinstance(v, dict) or (isinstance(v, list) and any(isinstance(x, dict) for x in v))


def _parse_as(text: str, tree: dict, path: str) -> TOMLDocument:
    """tomlkit's document for ``text``, which must read as ``tree`` (what the sources read)."""
    doc = parse(text)
    try:
        as_read = same(plain(doc), tree)
    except (TOMLKitError, ValueError, RecursionError):  # tomlkit cannot give back what it parsed
        as_read = False
    if not as_read:
        raise errors.ConfigLoadError(f"{path}: the file reads differently to tomlkit and to tomllib; "
                                     "nothing was changed: edit it by hand")
    return doc


def _split_top_level(text: str, tree: dict) -> tuple[str, dict, frozenset, str] | None:
    """``(part, its tree, the keys before the header, rest)``: ``text`` cut after the line of its
    first table header, when some key comes before that header and every top-level key defined
    there is complete there (no table header adds to it).  The header line stays in the part so
    that tomlkit spaces a key added before it exactly as in the whole document.  A ``[`` that
    starts a line inside a string or an array is not a header: the text before it then does
    not parse, and the next candidate is tried."""
    for tries, m in enumerate(tomlsections.HEADER_CANDIDATE.finditer(text)):
        if tries == 8:
            return None
        start = m.start()
        try:
            head_tree = tomlcompat.loads(text[:start])
        except tomlcompat.TOMLError:
            continue
        if not head_tree or any(k not in tree or not same(v, tree[k]) for k, v in head_tree.items()):
            return None
        eol = text.find("\n", start)
        end = len(text) if eol == -1 else eol + 1
        part = text[:end]
        try:
            part_tree = tomlcompat.loads(part)
        except tomlcompat.TOMLError:
            return None
        if tomlcompat.normalise(text[start:end]) is not None or len(part_tree) != len(head_tree) + 1:
            return None
        return part, part_tree, frozenset(head_tree), text[end:]
    return None
