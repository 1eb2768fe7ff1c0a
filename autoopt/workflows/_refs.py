"""``${...}`` references in runbook fields: run parameters and earlier steps' outputs, never expressions."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

__all__ = ["Ref", "find_refs", "parse_ref"]

_PLACEHOLDER = re.compile(r"\$\{([^{}]*)\}")
_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
_STEP_ID = r"[A-Za-z0-9_][A-Za-z0-9_.-]*?"
_PARAM = re.compile(rf"(?:params\.)?({_IDENT})")
_STEP = re.compile(rf"steps\.({_STEP_ID})\.output((?:\.{_IDENT})*)")


@dataclass(frozen=True)
class Ref:
    """One reference: ``kind`` is ``"param"`` (``${x}``, ``${params.x}``) or ``"step"``
    (``${steps.<id>.output}``, ``${steps.<id>.output.key...}``)."""

    kind: str
    name: str
    path: tuple[str, ...] = ()
    text: str = ""


def parse_ref(inner: str) -> Ref:
    """The reference ``${inner}`` names; ``ValueError`` for anything else (expressions, spaces, calls)."""
    m = _STEP.fullmatch(inner)
    if m is not None:
        path = tuple(p for p in m.group(2).split(".") if p)
        return Ref("step", m.group(1), path, "${" + inner + "}")
    m = _PARAM.fullmatch(inner)
    if m is not None:
        return Ref("param", m.group(1), (), "${" + inner + "}")
    raise ValueError(
        f"'${{{inner}}}' is not a reference: use ${{name}} or ${{params.name}} for a run parameter, "
        "${steps.<id>.output} or ${steps.<id>.output.<key>} for a step's output (no expressions)"
    )


def find_refs(value: Any) -> list[Ref]:
    """Every reference in ``value``: a string, or lists and dicts of them (keys are not searched)."""
    out: list[Ref] = []
    if isinstance(value, str):
        out.extend(parse_ref(m.group(1)) for m in _PLACEHOLDER.finditer(value))
        rest = _PLACEHOLDER.sub("", value)
        if "${" in rest:
            raise ValueError(f"an unclosed '${{' in {value!r}")
    elif isinstance(value, (list, tuple)):
        for item in value:
            out.extend(find_refs(item))
    elif isinstance(value, dict):
        for item in value.values():
            out.extend(find_refs(item))
    return out


def whole_ref(token: str) -> Ref | None:
    """The reference when ``token`` is exactly one ``${...}``; None when it holds none."""
    m = _PLACEHOLDER.fullmatch(token)
    if m is not None:
        return parse_ref(m.group(1))
    if "${" in token:
        raise ValueError(
            f"argument {token!r} mixes text and a ${{...}} reference; a reference must fill a whole argument"
        )
    return None
