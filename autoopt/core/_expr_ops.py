"""The primitives of safe expressions: limits, the whitelisted functions and operators, NaN-aware helpers.

Shared by the checker and scalar compiler (:mod:`autoopt.core._expr`) and the vectorised form
(:mod:`autoopt.core._expr_columns`).
"""

from __future__ import annotations

import ast
import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_LENGTH = 1000
"""Longest expression text, in characters."""
MAX_DEPTH = 32
"""Deepest nesting of the expression's syntax tree."""
MAX_NODES = 400
"""Most nodes in the expression's syntax tree."""
MAX_EXPONENT = 16
"""Largest magnitude of a ``**`` exponent (which must be a number constant)."""
_MAX_INT = 10**15

Kind = str  # "number", "string", "bool", or "any" (a name whose kind is not known yet)
_NAN = math.nan


def _is_missing(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _ceil(x: float) -> float:
    return math.ceil(x) if x - x == 0.0 else _NAN if x != x else x


def _floor(x: float) -> float:
    return math.floor(x) if x - x == 0.0 else _NAN if x != x else x


def _round(x: float) -> float:
    return round(x) if x - x == 0.0 else _NAN if x != x else x


def _sqrt(x: float) -> float:
    return math.sqrt(x) if x == x and x >= 0 else _NAN


def _min(*xs: float) -> float:
    """NaN if any argument is; a float if any argument is (as NumPy's result), else the int."""
    if any(x != x for x in xs):
        return _NAN
    out = min(xs)
    return float(out) if any(isinstance(x, float) for x in xs) else out


def _max(*xs: float) -> float:
    """NaN if any argument is; a float if any argument is (as NumPy's result), else the int."""
    if any(x != x for x in xs):
        return _NAN
    out = max(xs)
    return float(out) if any(isinstance(x, float) for x in xs) else out


def _pow(x: float, e: float) -> float:
    try:
        out = float(x) ** e
    except OverflowError:
        return math.inf if x > 0 or float(e) % 2 == 0 else -math.inf
    except ZeroDivisionError:  # (+-0) ** negative: IEEE 754 (and NumPy) give an infinity
        odd = float(e).is_integer() and float(e) % 2 == 1
        return math.copysign(math.inf, float(x)) if odd else math.inf
    return _NAN if isinstance(out, complex) else out


def _num(v: Any) -> Any:
    return _NAN if v is None else v


def _is_true(v: Any) -> bool:
    return v is True or v is np.True_


FUNCTIONS: dict[str, tuple[Callable[..., Any], Callable[..., Any], int, int]] = {
    # name: (scalar, vectorised, fewest args, most args)
    "ceil": (_ceil, np.ceil, 1, 1),
    "floor": (_floor, np.floor, 1, 1),
    "round": (_round, np.rint, 1, 1),
    "abs": (abs, np.abs, 1, 1),
    "sqrt": (_sqrt, lambda x: np.sqrt(np.where(x >= 0, x, np.nan)), 1, 1),
    "min": (_min, lambda *xs: functools.reduce(np.minimum, xs), 2, 8),  # pairwise: no stacked copy
    "max": (_max, lambda *xs: functools.reduce(np.maximum, xs), 2, 8),
}
"""The functions an expression may call: ``ceil``, ``floor`` and ``round`` give ints."""
_INT_FUNCTIONS = frozenset({"ceil", "floor", "round"})

_CMP = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=", ast.Eq: "==", ast.NotEq: "!="}
_BIN = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}
_WHY = {
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambdas",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignment expressions",
    ast.JoinedStr: "f-strings",
    ast.List: "list literals",
    ast.Tuple: "tuple literals",
    ast.Dict: "dict literals",
    ast.Set: "set literals",
    ast.Starred: "starred arguments",
    ast.Await: "await",
}
