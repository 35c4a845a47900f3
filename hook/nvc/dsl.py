"""The ``--require`` requirement DSL of ``nvidia-container-cli``, evaluated in-process (pure).

Grammar (libnvidia-container.md §5.1): a requirement is space-separated
alternatives (OR) of comma-separated terms (AND); a term is
``NAME OP VALUE`` with NAME one of ``cuda``, ``driver``, ``arch``, ``brand``
(case-insensitive) and OP one of ``= != < <= > >=``.  Evaluation is
left-to-right with short-circuit, exactly like the CLI, so syntax errors after
the deciding term go unnoticed there too.  A property whose value is unknown
(``None``) makes its term true without looking at the value.
"""

from __future__ import annotations

from ..values import Value

NAMES: tuple[str, ...] = ("cuda", "driver", "arch", "brand")
_OPERATORS: tuple[str, ...] = ("=", "!=", "<", "<=", ">", ">=")
_OP_CHARS = "<>=!"
_CUDA_HINT = ", please update your driver to a newer version, or use an earlier cuda container"


class RequirementError(Exception):
    """A requirement is invalid or unsatisfied; ``str()`` is the CLI-style detail (no stage word)."""


class Properties(Value, frozen=True):
    """The values a requirement is checked against (``None`` = unknown, term is true).

    ``device`` labels the GPU in messages ("GPU 0 (GPU-...)"); None when no device is evaluated.
    """

    cuda: str | None = None
    driver: str | None = None
    arch: str | None = None
    brand: str | None = None
    device: str | None = None

    def get(self, name: str) -> str | None:
        return getattr(self, name)


def _split(text: str, sep: str) -> list[str]:
    return [part for part in text.split(sep) if part]


def _parse_term(term: str) -> tuple[str, str, str]:
    """``(name, op, value)`` of one term; raises RequirementError("invalid expression")."""
    pos = next((i for i, ch in enumerate(term) if ch in _OP_CHARS), -1)
    if pos <= 0:
        raise RequirementError("invalid expression")
    end = pos
    while end < len(term) and term[end] in _OP_CHARS:
        end += 1
    name, run, value = term[:pos].lower(), term[pos:end], term[end:]
    op = next((o for o in _OPERATORS if o.startswith(run)), None)
    if name not in NAMES or op is None or not value:
        raise RequirementError("invalid expression")
    return name, op, value


def _version_cmp(a: str, b: str) -> int:
    """Compare dotted numeric versions like the CLI (``12`` == ``12.0``); -1, 0 or 1."""
    pa, pb = a.split("."), b.split(".")
    for x, y in zip(pa, pb):
        ix, iy = int(x or "0"), int(y or "0")
        if ix != iy:
            return -1 if ix < iy else 1
    rest_a, rest_b = ".".join(pa[len(pb):]), ".".join(pb[len(pa):])
    if rest_a.lstrip(".0"):
        return 1
    if rest_b.lstrip(".0"):
        return -1
    return 0


def _is_version(text: str) -> bool:
    return all(ch.isdigit() or ch == "." for ch in text) and text.isascii()


def evaluate_term(term: str, props: Properties) -> bool:
    """Evaluate one term; raises RequirementError("invalid expression")."""
    name, op, value = _parse_term(term)
    have = props.get(name)
    if have is None:
        return True
    if name == "brand":
        if op not in ("=", "!="):
            raise RequirementError("invalid expression")
        return (have.lower() == value.lower()) == (op == "=")
    if not _is_version(have) or not _is_version(value):
        raise RequirementError("invalid expression")
    c = _version_cmp(have, value)
    return {"=": c == 0, "!=": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[op]


def referenced(requirement: str) -> list[str]:
    """Property names the requirement mentions, in order of first use (for messages)."""
    seen: list[str] = []
    for alt in _split(requirement, " "):
        for term in _split(alt, ","):
            try:
                name = _parse_term(term)[0]
            except RequirementError:
                continue
            if name not in seen:
                seen.append(name)
    return seen


def unsatisfied_message(requirement: str, props: Properties) -> str:
    """``unsatisfied condition: REQ (found cuda=12.4[ on GPU 0 (...)])[, please update ...]``."""
    found = [f"{n}={props.get(n) if props.get(n) is not None else 'unknown'}" for n in referenced(requirement)]
    detail = ", ".join(found)
    if props.device and any(n in ("arch", "brand") for n in referenced(requirement)):
        detail += f" on {props.device}"
    text = requirement.strip(" ")
    msg = f"unsatisfied condition: {text}" + (f" (found {detail})" if detail else "")
    first = requirement.split(" ", 1)[0]
    if first.startswith("cuda>="):
        msg += _CUDA_HINT
    return msg


def evaluate(requirement: str, props: Properties) -> None:
    """Check one requirement; returns when it holds.

    Raises RequirementError: ``invalid expression`` for a malformed term that
    is reached, else the :func:`unsatisfied_message` when no alternative holds.
    As in the CLI's ``dsl_evaluate`` the result starts true and carries over:
    an empty requirement (a legacy image's ``NVIDIA_REQUIRE_CUDA=`` becomes
    ``--require=``) holds, and so does a first alternative of commas only,
    while one after a failed alternative keeps that failure.
    """
    holds = True
    for alt in _split(requirement, " "):
        for term in _split(alt, ","):
            holds = evaluate_term(term, props)
            if not holds:
                break
        if holds:
            return
    if not holds:
        raise RequirementError(unsatisfied_message(requirement, props))
