"""A light base for the hook's small typed values.

The hook runs for every container, so its start-up must stay close to the
interpreter's own.  ``dataclasses`` costs more than that whole budget (it
imports ``inspect``, ``re`` and ``enum`` and compiles methods with ``exec``), so
the values on the prestart path subclass :class:`Value` instead: each class
declares ``__slots__`` and ``_defaults`` (field name → default, in order) and
gets keyword/positional construction, ``repr``, equality and :meth:`replace`.
See docs/performance.md.
"""

from __future__ import annotations


class Value:
    """Base of slotted value classes.

    Subclasses set ``__slots__ = tuple(_defaults)``; the default of a field may
    be a zero-argument callable wrapped in :class:`Factory` for mutable values.
    Raises TypeError for unknown or missing fields, like a dataclass.
    """

    __slots__ = ()
    _defaults: dict = {}

    def __init__(self, *args, **kwargs) -> None:
        defaults = type(self)._defaults
        names = tuple(defaults)
        if len(args) > len(names):
            raise TypeError(f"{type(self).__name__}() takes {len(names)} positional arguments")
        for name, value in zip(names, args):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got multiple values for {name!r}")
            kwargs[name] = value
        for name in names:
            if name in kwargs:
                value = kwargs.pop(name)
            else:
                value = defaults[name]
                if value is _REQUIRED:
                    raise TypeError(f"{type(self).__name__}() missing required argument {name!r}")
                if type(value) is Factory:
                    value = value.make()
            object.__setattr__(self, name, value)
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected arguments {sorted(kwargs)}")

    def _values(self) -> tuple:
        return tuple(getattr(self, name) for name in type(self)._defaults)

    def __repr__(self) -> str:
        fields = ", ".join(f"{n}={getattr(self, n)!r}" for n in type(self)._defaults)
        return f"{type(self).__name__}({fields})"

    def __eq__(self, other) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._values() == other._values()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._values()))

    def replace(self, **changes):
        """A copy with ``changes`` applied."""
        current = {n: getattr(self, n) for n in type(self)._defaults}
        current.update(changes)
        return type(self)(**current)


class Factory:
    """A default made fresh for each instance (like ``field(default_factory=...)``)."""

    __slots__ = ("make",)

    def __init__(self, make) -> None:
        self.make = make


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "REQUIRED"


_REQUIRED = REQUIRED = _Required()
