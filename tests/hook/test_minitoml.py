"""hook.minitoml gives exactly tomllib's result, or declines (never a different tree, never accepts bad TOML)."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hook import minitoml

from ctk.toolkitconfig import DEFAULT as DEFAULT_TOOLKIT_CONFIG

KEYS = st.sampled_from(["a", "b", "nvidia-container-cli", "load-kmods", "x_1", "A", "a.b", "b.c", " a ", "a. b",
                        "1", "-", "a..b", "é", '"q"'])
SCALARS = st.sampled_from(['"s"', "'lit'", '"a#b"', "true", "false", "0", "-0", "+5", "12", "01", "1.5",
                           '"esc\\n"', '""', "''", "1979-05-27", "inf", '"tab\there"', '"""m"""', "nan", "1_000"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3).flatmap(
    lambda items: st.sampled_from([", ", ",\n  ", " ,# c\n"]).map(
        lambda sep: "[" + sep.join(items) + st_trailing(items) + "]")), max_leaves=6)


def st_trailing(items):
    return "," if items and len(items) % 2 else ""


LINES = st.one_of(
    st.tuples(KEYS, VALUES).map(lambda kv: f"{kv[0]} = {kv[1]}"),
    KEYS.map(lambda k: f"[{k}]"),
    KEYS.map(lambda k: f"[[{k}]]"),
    st.sampled_from(["# comment", "", "   ", "key = 1 # trailing", "a = 1 b = 2", "= 1", "[a", "a = ",
                     "#\x01", "a = {x = 1}", "a = 'x' # é"]),
)
DOCS = st.lists(LINES, max_size=8).map(lambda lines: "\n".join(lines) + "\n")


def _tomllib(text):
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return "error"


@settings(max_examples=1500, deadline=None)
@given(DOCS)
def test_same_result_as_tomllib_or_declines(text):
    try:
        got = minitoml.loads(text)
    except minitoml.Unsupported:
        return
    assert got == _tomllib(text)


# The default config.toml that ./build.sh install puts in /etc (the reference's generated default).
REAL_CONFIG = DEFAULT_TOOLKIT_CONFIG  # what `nvidia-ctk config default` and ./build.sh install write


def test_the_generated_default_config_is_in_the_subset():
    assert minitoml.loads(REAL_CONFIG) == tomllib.loads(REAL_CONFIG)


@pytest.mark.parametrize("text", [
    "a = 1\na = 2\n", "[a]\n[a]\n", "a.b = 1\n[a.b]\n", "[a.b]\n[a]\nb = 1\n", "[x]\na.b = 1\n[x.a]\n",
    "a = 1\n[a]\n", "[a]\nb.c = 1\n[a]\n", "a = [1,,2]\n", "a = \"x\ny\"\n", "a = 1\r\n",
])
def test_declines_what_might_be_invalid(text):
    with pytest.raises(minitoml.Unsupported):
        minitoml.loads(text)


def test_allowed_redefinitions():
    text = "[a.b]\nx = 1\n[a]\ny = 2\n[c]\nd.e = 1\nd.f = 2\n"
    assert minitoml.loads(text) == tomllib.loads(text)
