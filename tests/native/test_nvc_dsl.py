"""Requirement DSL (libnvidia-container.md §5.1) evaluated in-process."""

from __future__ import annotations

import pytest

from hook.nvc import InjectionError
from hook.nvc.rules import evaluate, evaluate_term, unsatisfied_message

HOST = dict(cuda="12.4", driver="550.54.14", arch="9.0", brand="Tesla", device="GPU 0 (GPU-x)")
NODEV = dict(cuda="12.4", driver="550.54.14")


@pytest.mark.parametrize("term, expected", [
    ("cuda>=12.4", True), ("cuda>=12.5", False), ("cuda>12.3", True), ("cuda<12.4", False),
    ("cuda<=12.4.0", True), ("cuda=12.4", True), ("cuda=12.40", False), ("cuda!=12.4", False),
    ("cuda!12.3", True),  # "!" alone is "!="
    ("CUDA>=12", True), ("cuda=12.4.0.0", True), ("cuda<12.4.1", True), ("cuda>=12.04", True),
    ("driver>=550", True), ("driver>=550.54.15", False), ("driver<551", True),
    ("arch>=9.0", True), ("arch>9", False), ("arch=9", True),
    ("brand=tesla", True), ("brand=TESLA", True), ("brand!=geforce", True), ("brand=GeForce", False),
])
def test_term_values(term, expected):
    assert evaluate_term(term, HOST) is expected


@pytest.mark.parametrize("term", [
    "cuda==12", "cuda=>12", "cuda=<12", "cuda<>12", "cuda>=", ">=12", "gpu>=1", "cuda>=12a", "arch=x86_64",
    "brand<tesla", "cuda", "cuda>=v12",
])
def test_invalid_terms(term):
    with pytest.raises(InjectionError, match="^nvidia-container-cli: requirement error: invalid expression$"):
        evaluate_term(term, HOST)


def test_unknown_values_make_terms_true_before_checking_value():
    assert evaluate_term("arch>=sm_80", NODEV) is True
    assert evaluate_term("brand<x", NODEV) is True
    assert evaluate_term("cuda>=99", dict(driver="1")) is True


def test_or_and_semantics_and_short_circuit():
    evaluate("cuda>=13.0 cuda>=12.0", HOST)                     # second alternative holds
    evaluate("cuda>=12.0,driver>=500", HOST)                      # both terms hold
    evaluate("cuda>=12.0 gpu>=bogus", HOST)                       # never parsed
    evaluate("cuda>=13.0,bogus cuda>=12", HOST)                   # bogus after a false term not parsed
    evaluate("  cuda>=11.0  ", HOST)                              # runs of spaces
    evaluate("cuda>=12.2 brand=tesla,driver>=470,driver<471 brand=unknown,driver>=470,driver<471", HOST)
    with pytest.raises(InjectionError, match="^nvidia-container-cli: requirement error: invalid expression$"):
        evaluate("bogus cuda>=12", HOST)


def test_unsatisfied_message_names_requirement_and_values():
    with pytest.raises(InjectionError) as exc:
        evaluate("cuda>=13.0", HOST)
    assert str(exc.value) == ("nvidia-container-cli: requirement error: unsatisfied condition: cuda>=13.0 "
                              "(found cuda=12.4), please update your driver to a newer version, or use an earlier "
                              "cuda container")
    with pytest.raises(InjectionError) as exc:
        evaluate("arch>=10.0 brand=geforce,driver>=600", HOST)
    assert str(exc.value) == ("nvidia-container-cli: requirement error: unsatisfied condition: arch>=10.0 "
                              "brand=geforce,driver>=600 (found arch=9.0, brand=Tesla, driver=550.54.14 on GPU 0 (GPU-x))")


@pytest.mark.parametrize("requirement", ["", "   ", ",", " , ,, "])
def test_empty_requirement_holds_like_the_cli(requirement):
    evaluate(requirement, HOST)  # dsl_evaluate's result starts true; nothing is evaluated


def test_empty_alternative_after_a_failed_one_keeps_the_failure():
    with pytest.raises(InjectionError,
                       match="^nvidia-container-cli: requirement error: unsatisfied condition: cuda>=99 , "):
        evaluate("cuda>=99 ,", HOST)


def test_message_for_unknown_value():
    assert unsatisfied_message("cuda>=1", dict()) == (
        "unsatisfied condition: cuda>=1 (found cuda=unknown), please update your driver to a newer version, "
        "or use an earlier cuda container")
