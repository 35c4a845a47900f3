"""cdi.miniyaml against PyYAML: every document it accepts reads as ``yaml.safe_load`` reads it, the specs
the generators write (ours in go-yaml's layout, PyYAML's ``safe_dump``) are accepted, and whatever is
outside its subset raises Unsupported (the registry then parses with PyYAML)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml
from hypothesis import given, settings, strategies as st

from cdi import miniyaml
from cdi.spec import to_yaml
from paths import FIXTURES

GOLDEN = sorted(p / "stdout.txt" for p in (FIXTURES / "cdi").iterdir()
                if (p / "stdout.txt").exists() and (p / "stdout.txt").read_text().startswith("{"))


def same_as_pyyaml(text: str) -> bool:
    """True when miniyaml reads ``text`` as PyYAML does; False when it declines (Unsupported).  Fails the
    test when it reads something PyYAML reads differently or refuses."""
    try:
        value = miniyaml.loads(text)
    except miniyaml.Unsupported:
        return False
    expected = yaml.safe_load(text)
    assert value == expected and type(value) is type(expected), text
    assert json.dumps(value, sort_keys=True) == json.dumps(expected, sort_keys=True)  # bool vs int, too
    return True


def golden_specs() -> list[dict]:
    table = {"{driver_root}": "/run/nvidia/driver", "{dev_root}": "/run/nvidia/driver",
             "{hook_path}": "/usr/bin/nvidia-cdi-hook"}
    out = []
    for path in GOLDEN:
        text = path.read_text()
        for k, v in table.items():
            text = text.replace(k, v)
        out.append(json.JSONDecoder().raw_decode(text)[0])  # the spec (some cases print more after it)
    return out


def test_the_corpus_gives_specs():
    assert len(GOLDEN) >= 20


@pytest.mark.parametrize("spec", golden_specs(), ids=[p.parent.name for p in GOLDEN])
def test_generated_specs_are_read_as_pyyaml_reads_them(spec):
    """What `nvidia-ctk cdi generate` writes (go-yaml's layout, cdi.spec.to_yaml) is in the subset; what
    PyYAML's safe_dump writes for the same spec (sequences not indented under their key) reads alike or is
    declined (a MIG name such as 0:0, which PyYAML leaves plain: numbers-like scalars go to PyYAML)."""
    assert same_as_pyyaml(to_yaml(spec))
    assert miniyaml.loads(to_yaml(spec)) == spec
    same_as_pyyaml(yaml.safe_dump(spec, sort_keys=False))
    same_as_pyyaml(yaml.safe_dump(spec, sort_keys=False, indent=4, explicit_start=True))


def test_pyyaml_style_specs_are_in_the_subset_too():
    """Sequences not indented under their key (PyYAML's layout) are read: most golden specs dumped by PyYAML."""
    accepted = [same_as_pyyaml(yaml.safe_dump(spec, sort_keys=False)) for spec in golden_specs()]
    assert sum(accepted) >= len(accepted) - 4


def test_mig_names_are_quoted_in_our_yaml():
    """1:0 is the number 60 to a YAML 1.1 reader (PyYAML's sexagesimal integers): the generator quotes it,
    as go-yaml does (isBase60Float), and dates likewise."""
    text = to_yaml({"devices": [{"name": "1:0"}, {"name": "2024-01-01"}, {"name": "0.5.0"}]})
    assert '- name: "1:0"' in text and '- name: "2024-01-01"' in text and "- name: 0.5.0" in text
    assert yaml.safe_load(text)["devices"] == miniyaml.loads(text)["devices"] == [
        {"name": "1:0"}, {"name": "2024-01-01"}, {"name": "0.5.0"}]


@pytest.mark.parametrize("text, value", [
    ("", None), ("---\n", None), ("# only a comment\n", None),
    ("a: 1\nb: -2\nc: +3\nd: 0\ne: -0\n", {"a": 1, "b": -2, "c": 3, "d": 0, "e": 0}),
    ("a: yes\nb: Off\nc: TRUE\nd: y\ne: n\nf: ~\ng: null\nh:\n", {"a": True, "b": False, "c": True, "d": "y",
                                                                  "e": "n", "f": None, "g": None, "h": None}),
    ("a: --link\nb: ../x.so::/usr/lib/x.so\nc: K=V\nd: a,b[0]{}\ne: x#y\nf: a b\n",
     {"a": "--link", "b": "../x.so::/usr/lib/x.so", "c": "K=V", "d": "a,b[0]{}", "e": "x#y", "f": "a b"}),
    ('a: "0"\nb: \'it\'\'s\'\nc: "t\\tab \\u00e9 \\x41 \\"q\\" \\\\"\nd: ""\n',
     {"a": "0", "b": "it's", "c": 't\tab é A "q" \\', "d": ""}),
    ("a: []\nb: {}\nc:\n- []\n- {}\n", {"a": [], "b": {}, "c": [[], {}]}),
    ("- a: 1\n  b:\n  - x\n  -\n    - y\n- - \n", None),  # "- - " is a nested sequence on one line: declined
    ("k:\n    - x:\n        - 1\n      y: 2\n    - z\n", {"k": [{"x": [1], "y": 2}, "z"]}),
    ('"quoted key": 1\n\'k2\': 2\n', {"quoted key": 1, "k2": 2}),
    ("a: 1\na: 2\n", {"a": 2}),  # the later duplicate wins, as in PyYAML
    ("  indented: doc\n  b: 1\n", {"indented": "doc", "b": 1}),
    ("a: 1\r\nb: x\r\n", {"a": 1, "b": "x"}),
])
def test_cases_read_as_pyyaml_reads_them(text, value):
    if value is None and text.strip(" -\n") and not text.startswith("#") and text != "---\n":
        assert not same_as_pyyaml(text)
    else:
        assert same_as_pyyaml(text)
        assert miniyaml.loads(text) == value


@pytest.mark.parametrize("text", [
    "a: 1.0\n", "a: 0755\n", "a: 0x1f\n", "a: 1_000\n", "a: 12:30\n", "a: 2024-01-01\n", "a: .inf\n", "a: .nan\n",
    "a: 1e3\n",                                     # numbers other than decimal integers
    "a: &x 1\nb: *x\n", "a: !!str 1\n", "a: |\n  text\n", "a: >\n  text\n",  # anchors, tags, block scalars
    "a: [1, 2]\n", "a: {b: 1}\n", "{a: 1}\n", "? a\n: 1\n",                # flow collections, complex keys
    "a: b # comment\n", "a: b\n  continued\n", 'a: "open\n  close"\n',      # comments after values, folding
    "a:\tb\n", "a: \x07\n", "a: é\n", "\ufeffa: 1\n", "a: x\rb: y\n", "a: x\r",  # tabs, controls, lone CRs
    "---\na: 1\n---\nb: 2\n", "a: 1\n...\n", "%YAML 1.1\n---\na: 1\n",       # documents, directives
    "1: a\n", "yes: a\n", "null: a\n", "a: =\n", "<<: {}\n",                 # keys that are no strings
    'a: "\\q"\n', 'a: "\\ud800"\n', "a: 'x' y\n", "a:b\n", "a : b\n", "just a scalar\n",
])
def test_outside_the_subset_is_declined(text):
    assert not same_as_pyyaml(text)


def test_nesting_deeper_than_the_stack_is_declined():
    text = "".join(" " * i + "a:\n" for i in range(5000))
    with pytest.raises(miniyaml.Unsupported):
        miniyaml.loads(text)


_PIECES = st.sampled_from(list("abzAZ019_-./:=,#@&*!|>'\"%`?[]{}~ ")
                          + ["yes", "no", "On", "null", "0x", "1.5", ": ", " #", "é", "\t", "\r", "\n", "2024-01-01"])
_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-10**12, max_value=10**12),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(_PIECES, max_size=6).map("".join),
)
_KEYS = st.lists(st.sampled_from(list("abcXY_-./09 :#'\"") + ["yes", "null", "1"]), min_size=1, max_size=6).map("".join)
_TREES = st.recursive(_SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
                      max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(tree=_TREES, indent=st.sampled_from([2, 4]), flow=st.sampled_from([False, None]))
def test_whatever_pyyaml_writes_is_read_alike_or_declined(tree, indent, flow):
    same_as_pyyaml(yaml.safe_dump(tree, indent=indent, default_flow_style=flow, sort_keys=False))


@settings(max_examples=200, deadline=None)
@given(tree=st.dictionaries(_KEYS, _TREES, max_size=5))
def test_our_generators_layout_is_read_alike_or_declined(tree):
    same_as_pyyaml(to_yaml(tree))


def test_a_yaml_spec_is_read_without_importing_pyyaml(tmp_path):
    """The runtime's cdi mode reads the generated YAML spec without PyYAML; a spec outside the subset
    still reads (through PyYAML)."""
    spec = golden_specs()[0]
    (tmp_path / "nvidia.yaml").write_text(to_yaml(spec))
    (tmp_path / "other.yaml").write_text("cdiVersion: 0.5.0\nkind: example.com/x  # a comment\ndevices: []\n")
    code = ("import sys; from cdi.registry import parse_spec; "
            "a = parse_spec(open(sys.argv[1], 'rb').read(), 'nvidia.yaml'); print('yaml' in sys.modules); "
            "b = parse_spec(open(sys.argv[2], 'rb').read(), 'other.yaml'); print('yaml' in sys.modules, b['kind'])")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "nvidia.yaml"), str(tmp_path / "other.yaml")],
                         capture_output=True, text=True, check=True).stdout
    assert out == "False\nTrue example.com/x\n"
