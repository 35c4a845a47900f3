"""A light base for the hook's small typed values.

The hook runs for every container, so its start-up must stay close to the
interpreter's own.  ``dataclasses`` costs more than that whole budget (it
imports ``inspect``, ``re`` and ``enum`` and compiles methods with ``exec``), so
the values on the prestart path subclass :class:`Value` instead.  Each field is
declared once, as an annotation with its default::

    class Mount(Value, frozen=True):
        destination: str = ""
        source: str = ""

and the class gets ``__slots__``, keyword/positional construction (in
declaration order; a field without a default is required), ``repr``, equality,
hashing and :meth:`~Value.replace`.  ``frozen=True`` refuses assignment after
construction.  A class whose fields come from a table (the hook config's schema)
passes them as ``fields=((name, default), ...)``; they come before the annotated
ones.  See docs/performance.md and docs/architecture.md.
"""

from __future__ import annotations

__all__ = ["Value", "Factory", "REQUIRED", "FrozenError", "lazy_classes", "lazy_exception", "copy_plain"]


class _Required:
    __slots__ = ()

    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


class Factory:
    """A default made fresh for each instance (like ``field(default_factory=...)``)."""

    __slots__ = ("make",)

    def __init__(self, make) -> None:
        self.make = make


def lazy_classes(namespace: dict, names: tuple[str, ...], define):
    """A module ``__getattr__`` (PEP 562) that creates the classes ``define()`` returns the first time
    one of ``names`` is asked for, and keeps them in ``namespace`` (the module's globals).

    For exception families: creating a class costs CPython 60-100 k instructions (``type_new`` fills
    in every slot), and a run that succeeds raises nothing (docs/performance.md "Classes").  Name the
    classes through their module where they are used (``raise errors.ConfigError(...)``,
    ``except errors.ConfigError``: Python evaluates an ``except`` clause only when something was
    raised); ``from module import Name`` creates them at import.  The module's own code calls the
    function (``__getattr__("FrozenError")``): a global name is not looked up through it.
    ``define()`` returns exactly the classes of ``names``; their ``__qualname__`` becomes their name.
    """
    wanted = frozenset(names)

    def __getattr__(name: str):
        if name in wanted and name in namespace:  # a call from the module's own code, once created
            return namespace[name]
        if name not in wanted:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        made = define()
        if {cls.__name__ for cls in made} != wanted:
            raise RuntimeError(f"{namespace['__name__']}: defines {sorted(c.__name__ for c in made)}, "
                               f"not {sorted(wanted)}")
        for cls in made:
            cls.__qualname__ = cls.__name__
            namespace[cls.__name__] = cls
        return namespace[name]

    __getattr__.names = tuple(names)  # what it creates (tests)
    return __getattr__


def lazy_exception(namespace: dict, name: str, base: type = Exception, doc: str = ""):
    """:func:`lazy_classes` for a family of one exception class that has nothing of its own but its
    docstring: ``__getattr__ = lazy_exception(globals(), "SpecError", ValueError, "An invalid spec.")``."""
    return lazy_classes(namespace, (name,),
                        lambda: (type(name, (base,), {"__doc__": doc, "__module__": namespace["__name__"]}),))


__getattr__ = lazy_exception(globals(), "FrozenError", AttributeError,
                             "Assignment to a field of a frozen value (as ``dataclasses.FrozenInstanceError``).")


def copy_plain(value):
    """A copy of a tree of dicts and lists, leaves shared (several times cheaper than ``copy.deepcopy``;
    a subclass of dict or list is a leaf)."""
    if value.__class__ is dict:
        return {k: copy_plain(v) for k, v in value.items()}
    if value.__class__ is list:
        return [copy_plain(v) for v in value]
    return value


def _refuse_set(self, name, value) -> None:
    raise __getattr__("FrozenError")(f"cannot assign to field {name!r} of frozen {type(self).__name__}")


def _refuse_del(self, name) -> None:
    raise __getattr__("FrozenError")(f"cannot delete field {name!r} of frozen {type(self).__name__}")


class _ValueType(type):
    """Turns the annotated class attributes of a :class:`Value` subclass into slotted fields."""

    def __new__(mcs, name, bases, ns, frozen: bool = False, fields=()):
        defaults = {}
        for base in reversed(bases):
            defaults.update(getattr(base, "_defaults", {}))
        own = dict(fields)
        for field in ns.get("__annotations__", {}):
            if not field.startswith("_"):
                own[field] = ns.pop(field, REQUIRED)
        defaults.update(own)
        ns["__slots__"] = tuple(f for f in own if f not in getattr(bases[0], "_defaults", {})) if bases else ()
        ns["_defaults"] = defaults
        if frozen:
            ns["__setattr__"] = _refuse_set
            ns["__delattr__"] = _refuse_del
        return super().__new__(mcs, name, bases, ns)


class Value(metaclass=_ValueType):
    """Base of slotted value classes; raises TypeError for unknown or missing fields, like a dataclass."""

    __slots__ = ()

    def __init__(self, *args, **kwargs) -> None:
        defaults = type(self)._defaults
        if len(args) > len(defaults):
            raise TypeError(f"{type(self).__name__}() takes {len(defaults)} positional arguments")
        for name, value in zip(defaults, args):
            if name in kwargs:
                raise TypeError(f"{type(self).__name__}() got multiple values for {name!r}")
            kwargs[name] = value
        for name, default in defaults.items():
            if name in kwargs:
                value = kwargs.pop(name)
            else:
                value = default
                if value is REQUIRED:
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
