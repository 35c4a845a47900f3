"""hook.values: each field declared once (annotation = default); frozen values refuse assignment."""

from __future__ import annotations

import pytest

from hook.config import _SCHEMA, HookConfig, parse
from hook.plan import GlobalOptions, Plan
from hook.values import REQUIRED, Factory, FrozenError, Value

from classes import PACKAGES
from paths import ROOT


class Point(Value, frozen=True):
    x: int
    y: int = 0
    tags: list[str] = Factory(list)


class Counter(Value):
    n: int = 0


def test_fields_come_from_the_annotations_in_order():
    assert Point._defaults == {"x": REQUIRED, "y": 0, "tags": Point._defaults["tags"]}
    assert Point.__slots__ == ("x", "y", "tags")
    assert Point(1, 2) == Point(x=1, y=2) and repr(Point(1)) == "Point(x=1, y=0, tags=[])"
    assert Point(1).tags is not Point(1).tags  # a Factory default is made per instance
    assert Point(1, 2).replace(y=3) == Point(1, 3)


@pytest.mark.parametrize("call, message", [
    (lambda: Point(), "Point() missing required argument 'x'"),
    (lambda: Point(1, z=2), "Point() got unexpected arguments ['z']"),
    (lambda: Point(1, x=1), "Point() got multiple values for 'x'"),
    (lambda: Point(1, 2, [], 4), "Point() takes 3 positional arguments"),
])
def test_construction_errors_are_those_of_a_dataclass(call, message):
    with pytest.raises(TypeError) as exc:
        call()
    assert str(exc.value) == message


def test_a_frozen_value_refuses_assignment_and_an_unfrozen_one_accepts_it():
    p = Point(1)
    with pytest.raises(FrozenError) as exc:
        p.x = 2
    assert str(exc.value) == "cannot assign to field 'x' of frozen Point"
    with pytest.raises(AttributeError):
        p.other = 1  # slotted: no other attribute either
    c = Counter()
    c.n = 5
    assert c == Counter(5)


@pytest.mark.parametrize("value", [HookConfig(), GlobalOptions(), Plan(
    options=GlobalOptions(), cuda_compat_mode=None, ldconfig="", no_cgroups=False, devices=("0",), mig_config="",
    mig_monitor="", imex_channels=(), capabilities=(), requirements=(), pid=1, rootfs="/r")])
def test_the_config_and_the_plan_are_frozen(value):
    with pytest.raises(FrozenError):
        setattr(value, next(iter(type(value)._defaults)), None)


def test_the_config_schema_is_one_table_of_every_key():
    """Every row is a field with its default, and a file that sets every key sets every field."""
    assert [name for _, name, _, _ in _SCHEMA] == list(HookConfig._defaults)[:len(_SCHEMA)]
    assert list(HookConfig._defaults)[len(_SCHEMA):] == ["path", "sources"]
    samples = {"bool": (True, "true"), "str": ("v", '"v"'), "strs": (("a", "b"), '["a", "b"]')}
    text = "".join(f"{key} = {samples[kind][1]}\n" for key, _, kind, _ in _SCHEMA
                   if key != "nvidia-container-cli.ldconfig" and key != "nvidia-container-runtime-hook.injector"
                   and key != "supported-driver-capabilities")
    cfg = parse(text.encode(), path="/c.toml", hook_checks=False)
    for key, name, kind, default in _SCHEMA:
        if key in ("nvidia-container-cli.ldconfig", "nvidia-container-runtime-hook.injector",
                   "supported-driver-capabilities"):
            assert getattr(cfg, name) == default
        else:
            assert getattr(cfg, name) == samples[kind][0], key
    assert cfg.sources == tuple(key for key, _, _, _ in _SCHEMA if key in text)


def test_lazy_classes_creates_the_family_once_when_first_named():
    from hook.values import lazy_classes

    calls = []

    def define():
        calls.append(1)

        class Base(Exception):
            pass

        class Child(Base):
            pass

        return Base, Child

    namespace = {"__name__": "pkg.errors"}
    getattr_ = lazy_classes(namespace, ("Base", "Child"), define)
    assert calls == []
    child = getattr_("Child")
    assert calls == [1] and issubclass(child, namespace["Base"])
    assert (child.__qualname__, child.__module__) == ("Child", __name__)  # the module that defines them
    assert getattr_("Child") is child and calls == [1]  # the module's own code calling it again
    with pytest.raises(AttributeError, match="module 'pkg.errors' has no attribute 'Other'"):
        getattr_("Other")


def test_lazy_classes_refuses_a_family_that_does_not_match_its_names():
    from hook.values import lazy_classes

    def define():
        class Base(Exception):
            pass

        return (Base,)

    with pytest.raises(RuntimeError, match=r"pkg.errors: defines \['Base'\], not \['Base', 'Missing'\]"):
        lazy_classes({"__name__": "pkg.errors"}, ("Base", "Missing"), define)("Base")


LAZY = ["hook.errors", "hook.gojson", "hook.version", "hook.minitoml", "hook.config", "hook.flags", "hook.values",
        "hook.nvc", "shim.errors", "shim.ocispec", "shim.cdispec", "shim.jitcdi", "cdi.errors", "cdi.spec",
        "cdi.miniyaml", "ctk.errors", "ctk.cli_flags"]


def test_every_module_with_a_lazy_family_is_listed():
    found = sorted(".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                   for package in PACKAGES for p in (ROOT / package).rglob("*.py")
                   if "__getattr__ = lazy_" in p.read_text())
    assert found == sorted(LAZY)


@pytest.mark.parametrize("module", LAZY)
def test_a_lazy_class_is_never_named_bare(module):
    """A global name is not looked up through the module's ``__getattr__``: inside its module a lazily
    created class must be named through ``__getattr__("Name")`` (a bare name works only once something
    created the class, and is a NameError before); elsewhere through the module (``from m import Name``
    would create it at import)."""
    import ast
    import importlib
    import pathlib

    mod = importlib.import_module(module)
    names = set(mod.__getattr__.names)
    tree = ast.parse(pathlib.Path(mod.__file__).read_text())
    defines = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name == "_define"]
    inside = {id(n) for d in defines for n in ast.walk(d)}
    bare = [(n.id, n.lineno) for n in ast.walk(tree)
            if isinstance(n, ast.Name) and n.id in names and id(n) not in inside]
    assert bare == []
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.ImportFrom) and node.module and module.endswith(node.module.lstrip(".")):
                    assert not names & {a.name for a in node.names}, (path, node.lineno)


@pytest.mark.parametrize("module", LAZY)
def test_every_lazy_family_defines_what_it_names(module):
    """Each module's family can be created (its names and its classes agree)."""
    import importlib

    mod = importlib.import_module(module)
    assert mod.__getattr__.names
    for name in mod.__getattr__.names:
        cls = getattr(mod, name)
        assert isinstance(cls, type) and issubclass(cls, BaseException)
        assert (cls.__module__, cls.__qualname__) == (module, name)


def test_copy_plain_copies_dicts_and_lists_and_shares_leaves():
    from hook.values import copy_plain

    leaf = ("t",)
    tree = {"a": [1, {"b": leaf}], "c": "s"}
    copied = copy_plain(tree)
    assert copied == tree
    assert copied is not tree and copied["a"] is not tree["a"] and copied["a"][1] is not tree["a"][1]
    assert copied["a"][1]["b"] is leaf
