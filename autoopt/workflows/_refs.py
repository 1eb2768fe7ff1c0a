"""``${...}`` references in runbook fields: run parameters and earlier steps' outputs, never expressions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Ref", "find_refs", "parse_ref", "render", "whole_ref"]

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


def render(value: Any, params: Mapping[str, Any], outputs: Mapping[str, Any]) -> Any:
    """``value`` with its references filled in: a string that is exactly one ``${...}`` becomes the value
    itself (any type); a reference inside a longer string is formatted with ``str``. Lists and dict values
    are rendered item by item. ``KeyError`` names a parameter, step output or key that is missing."""
    if isinstance(value, str):
        m = _PLACEHOLDER.fullmatch(value)
        if m is not None:
            return _lookup(parse_ref(m.group(1)), params, outputs)
        return _PLACEHOLDER.sub(lambda m: str(_lookup(parse_ref(m.group(1)), params, outputs)), value)
    if isinstance(value, list | tuple):
        return [render(v, params, outputs) for v in value]
    if isinstance(value, dict):
        return {k: render(v, params, outputs) for k, v in value.items()}
    return value


def _lookup(ref: Ref, params: Mapping[str, Any], outputs: Mapping[str, Any]) -> Any:
    if ref.kind == "param":
        if ref.name not in params:
            raise KeyError(f"{ref.text}: the run has no parameter {ref.name!r}")
        return params[ref.name]
    if ref.name not in outputs:
        raise KeyError(f"{ref.text}: step {ref.name!r} has no output yet")
    value = outputs[ref.name]
    for key in ref.path:
        if not isinstance(value, Mapping) or key not in value:
            raise KeyError(f"{ref.text}: the output of step {ref.name!r} has no key {key!r}")
        value = value[key]
    return value
