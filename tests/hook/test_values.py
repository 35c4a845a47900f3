"""hook.values: each field declared once (annotation = default); frozen values refuse assignment."""

from __future__ import annotations

import pytest

from hook.config import _SCHEMA, HookConfig, parse
from hook.plan import GlobalOptions, Plan
from hook.values import REQUIRED, Factory, FrozenError, Value


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
